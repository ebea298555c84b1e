from django.contrib import admin, messages

from accounts.audit import admin as audit_admin  # noqa: F401 (registers its model)
from accounts.models import ApiToken
from accounts.notifications import admin as notifications_admin  # noqa: F401 (registers its models)
from accounts.services import api_token_issue, api_token_revoke


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Staff see and revoke only their own tokens (superusers everyone's, to revoke a leaked one); a token
    made here is always the requester's: a token carries its user's rights, so minting one for someone
    else would be acting as them."""

    list_display = ["name", "user", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix", "user__username"]
    readonly_fields = ["user", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def get_queryset(self, request):
        tokens = super().get_queryset(request)
        return tokens if request.user.is_superuser else tokens.filter(user=request.user)

    def get_fields(self, request, obj=None):
        return ["name", "expires_at"] if obj is None else ["name", *self.readonly_fields]

    def get_readonly_fields(self, request, obj=None):
        # A token is issued, used and revoked; it is never re-pointed at another user.
        return [] if obj is None else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["name"])
            return
        obj.user = request.user
        secret = api_token_issue(token=obj)
        messages.warning(request, f"The token for {obj.name!r} is {secret} — copy it now: it is not shown again.")

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        for token in queryset.active():
            api_token_revoke(token=token)
        self.message_user(request, "Revoked.", messages.SUCCESS)


# The apps whose admin pages reach across people: the users themselves (and their groups), their email
# addresses, second factors and sessions, and the beat schedules that hold every bot's ticks.
SUPERUSER_ONLY_APPS = {"auth", "account", "mfa", "usersessions", "django_celery_beat"}


class SuperuserOnly:
    """Only a superuser may see or change these: a staff member editing a user could make themselves
    superuser, and one disabling a schedule would stop someone's bot while it still says running."""

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_add_permission(self, request, *args):
        return self.has_module_permission(request)

    def has_change_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_delete_permission(self, request, obj=None):
        return self.has_module_permission(request)


def _superusers_only() -> None:
    for model, model_admin in list(admin.site._registry.items()):
        if model._meta.app_label in SUPERUSER_ONLY_APPS:
            admin.site.unregister(model)
            admin.site.register(model, type(type(model_admin).__name__, (SuperuserOnly, type(model_admin)), {}))


_superusers_only()
