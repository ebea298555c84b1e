"""How allauth behaves here: who may sign up (TRADEBOT_SIGNUP), and whose email must be verified."""

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.models import EmailAddress
from allauth.account.stages import EmailVerificationStage
from django import forms
from django.conf import settings

from accounts.invites import request_invited_email


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request) -> bool:
        if settings.TRADEBOT_SIGNUP == "open":
            return True
        if settings.TRADEBOT_SIGNUP == "invite":
            return request_invited_email(request) is not None
        return False

    def clean_email(self, email: str) -> str:
        email = super().clean_email(email)
        if settings.TRADEBOT_SIGNUP == "invite" and self.request is not None:
            invited = request_invited_email(self.request)
            if invited is not None and email.lower() != invited:
                raise forms.ValidationError(f"This invitation is for {invited}.")
        return email

    def get_login_stages(self) -> list[str]:
        stages = super().get_login_stages()
        return [VerifiedEmailUnlessNone.path if path == STOCK_STAGE else path for path in stages]


STOCK_STAGE = "allauth.account.stages.EmailVerificationStage"


class VerifiedEmailUnlessNone(EmailVerificationStage):
    """Everyone with an email address must have verified it; an account an operator made without one
    (`ensure_admin`'s admin) signs in without, as it has nothing to verify."""

    path = "accounts.adapter.VerifiedEmailUnlessNone"

    def handle(self):
        user = self.login.user
        if not user.email and not EmailAddress.objects.filter(user=user).exists():
            return None, True
        return super().handle()
