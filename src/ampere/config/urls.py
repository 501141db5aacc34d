from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("ampere.api.urls")),
    path("", include("ampere.backoffice.urls")),
    path("admin/", admin.site.urls),
    path("console/", include("ampere.console.urls")),
    path("portal/", include("ampere.portal.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
]
