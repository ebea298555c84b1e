"""What every app's admin shares: rows scoped to their owner, and records shown but never edited."""

from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.urls import reverse

from tradebot.errors import Conflict, Invalid


class OwnedAdmin(admin.ModelAdmin):
    """Rows are filtered by owner, and so are the choices of every foreign key to an owned model.

    A service may still refuse a change the form accepted (a duplicate name, an open position): the
    form comes back with the refusal on its field and the input kept, and nothing is saved.
    """

    conflict_field = "__all__"  # the form field a service's Conflict is about

    def get_queryset(self, request):
        rows = super().get_queryset(request)
        return rows if request.user.is_superuser else rows.filter(owner=request.user)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related = db_field.related_model
        if not request.user.is_superuser and any(field.name == "owner" for field in related._meta.fields):
            kwargs["queryset"] = related._default_manager.filter(owner=request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        # The admin instantiates the form itself: a refusal to show goes on the class.
        return type(form.__name__, (form,), {"service_errors": getattr(request, "service_errors", ())})

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except Invalid as exc:
            request.service_errors = exc.errors
        except Conflict as exc:
            request.service_errors = [{"field": self.conflict_field, "message": str(exc)}]
        # The admin rolled the save back. It re-renders only an invalid form, so it validates the same
        # input again with the refusal added: the page shows it on its field, with everything typed kept.
        return super().changeform_view(request, object_id, form_url, extra_context)

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except Conflict as exc:
            self.message_user(request, f"Not deleted: {exc}", messages.ERROR)
            return HttpResponseRedirect(
                reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[object_id])
            )

    def get_actions(self, request):
        # Bulk deletion would bypass the services' refusals (open positions, bots on an account).
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


class ReadOnlyAdmin:
    """Records the admin shows but never adds or changes here (the services do); deleting one is
    allowed only where `deletable`. Mix in before OwnedAdmin."""

    deletable = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return self.deletable and super().has_delete_permission(request, obj)
