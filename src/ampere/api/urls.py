from django.urls import path

from ampere.api.health import healthz
from ampere.api.v1 import api

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("api/v1/", api.urls),
]
