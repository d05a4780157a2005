"""The API's contacts, with the doors of privacy (``privacy.api``): the view set of
``surveys.api.contacts`` extended by erasure (``DELETE``) and the export of everything held about
a contact, at the addresses of a DRF router."""

from rest_framework.routers import SimpleRouter

from privacy.api import ContactViewSet

app_name = "privacy"


class ContactRouter(SimpleRouter):
    """SimpleRouter's routes, where a ``DELETE`` of the list erases the contact its query names."""

    routes = [
        route._replace(mapping={**route.mapping, "delete": "erase_matching"})
        if route.name == "{basename}-list"
        else route
        for route in SimpleRouter.routes
    ]


api = ContactRouter()
api.register("api/v1/contacts", ContactViewSet, basename="api-contact")

urlpatterns = api.urls
