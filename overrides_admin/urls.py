from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from senders.views import ceiling, export

urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/password/",
        auth_views.PasswordChangeView.as_view(success_url="/"),
        name="password_change",
    ),
    path("admin/", admin.site.urls),
    path("export/<slug:slug>.txt", export.export_text, name="export_text"),
    path("export/<slug:slug>.json", export.export_json, name="export_json"),
    path("", include("senders.urls")),
]
if settings.BENCHMARK_CEILING_VIEW:  # bench/export.py's yardstick; off unless asked for
    urlpatterns.insert(0, path("bench/ceiling", ceiling.ceiling, name="bench_ceiling"))

handler400 = "senders.views.errors.bad_request"
handler403 = "senders.views.errors.permission_denied"
handler404 = "senders.views.errors.page_not_found"
handler500 = "senders.views.errors.server_error"
