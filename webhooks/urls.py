from rest_framework.routers import SimpleRouter

from webhooks import api

app_name = "webhooks"

router = SimpleRouter()
router.register("api/v1/webhooks", api.SubscriptionViewSet, basename="api-webhook")

urlpatterns = router.urls
