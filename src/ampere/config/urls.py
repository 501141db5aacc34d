from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("ampere.api.urls")),
    path("", include("ampere.backoffice.urls")),
    path("admin/", admin.site.urls),
]
