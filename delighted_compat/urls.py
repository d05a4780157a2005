app_name = "delighted_compat"

urlpatterns: list = []
