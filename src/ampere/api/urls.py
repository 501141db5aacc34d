from django.urls import path

from ampere.api import accounts, billing, partners, payments, rating, readings
from ampere.api.health import healthz
from ampere.api.v1 import api

# Each domain's HTTP interface is a module ampere/api/<domain>.py with a ninja `router`;
# register it here, one line each:
#   from ampere.api import rating
#   api.add_router("/rating/", rating.router)
api.add_router("/accounts/", accounts.router)
api.add_router("/billing/", billing.router)
api.add_router("/partners/", partners.router)
api.add_router("/payments/", payments.router)
api.add_router("/readings/", readings.router)
api.add_router("/rating/", rating.router)

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("api/v1/", api.urls),
]
