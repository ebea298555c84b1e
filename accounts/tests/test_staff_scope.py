"""Staff are not superusers: in the admin they see and act on their own rows only, the API-token admin
included, and the beat schedules (every bot's ticks) are for superusers alone."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django_celery_beat.models import PeriodicTask

from accounts.models import ApiToken
from accounts.services import api_token_create, api_token_user
from bots import services
from bots.models import BrokerAccount
from tests.factories import BotFactory, UserFactory

pytestmark = pytest.mark.django_db

TOKENS = "/admin/accounts/apitoken/"
BEAT_TASKS = "/admin/django_celery_beat/periodictask/"


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def staff():
    """A staff member granted every permission on tokens, bots and the beat schedules: still no superuser."""
    user = UserFactory(is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label__in=["accounts", "bots", "django_celery_beat"])
    )
    return user


@pytest.fixture
def superuser():
    return UserFactory(is_staff=True, is_superuser=True)


def test_staff_see_only_their_own_tokens(staff, superuser):
    mine, _ = api_token_create(user=staff, name="mine")
    theirs, _ = api_token_create(user=superuser, name="root's")
    client = logged_in(staff)

    listed = client.get(TOKENS).context["cl"].result_list
    assert list(listed) == [mine]
    assert client.get(f"{TOKENS}{theirs.pk}/change/").status_code == 302  # "doesn't exist", back to the list


def test_staff_cannot_mint_a_token_for_a_superuser(staff, superuser):
    client = logged_in(staff)
    response = client.post(f"{TOKENS}add/", {"user": superuser.pk, "name": "escalate"}, follow=True)

    assert response.status_code == 200
    token = ApiToken.objects.get(name="escalate")
    assert token.user == staff
    assert not ApiToken.objects.filter(user=superuser).exists()
    [secret] = [w for m in response.context["messages"] for w in str(m).split() if w.startswith("tb_")]
    assert api_token_user(secret) == staff


def test_a_token_minted_by_staff_cannot_pause_another_users_bot(staff, superuser):
    bot = services.bot_start(bot=BotFactory(owner=superuser))
    client = logged_in(staff)
    response = client.post(f"{TOKENS}add/", {"user": superuser.pk, "name": "escalate"}, follow=True)
    [secret] = [w for m in response.context["messages"] for w in str(m).split() if w.startswith("tb_")]

    answer = Client().post(f"/api/bots/{bot.pk}/pause", HTTP_AUTHORIZATION=f"Bearer {secret}")

    assert answer.status_code == 404
    bot.refresh_from_db()
    assert bot.status == "running"


def test_staff_cannot_revoke_someone_elses_token(staff, superuser):
    theirs, secret = api_token_create(user=superuser, name="root's")
    logged_in(staff).post(TOKENS, {"action": "revoke", "_selected_action": [theirs.pk]})
    assert api_token_user(secret) == superuser


def test_a_superuser_sees_and_revokes_everyones_tokens_but_mints_only_their_own(superuser):
    leaked, secret = api_token_create(user=UserFactory(), name="leaked")
    client = logged_in(superuser)
    assert leaked in client.get(TOKENS).context["cl"].result_list
    client.post(TOKENS, {"action": "revoke", "_selected_action": [leaked.pk]})
    assert api_token_user(secret) is None

    client.post(f"{TOKENS}add/", {"name": "mine"})
    assert ApiToken.objects.get(name="mine").user == superuser


def test_the_beat_schedules_are_for_superusers_only(staff, superuser):
    bot = services.bot_start(bot=BotFactory(owner=UserFactory()))
    task = PeriodicTask.objects.get(pk=bot.periodic_task_id)
    client = logged_in(staff)

    assert client.get(BEAT_TASKS).status_code == 403
    assert client.get(f"{BEAT_TASKS}{task.pk}/change/").status_code == 403
    client.post(BEAT_TASKS, {"action": "disable_tasks", "_selected_action": [task.pk]})
    task.refresh_from_db()
    assert task.enabled
    assert "django_celery_beat" not in client.get("/admin/").content.decode()

    assert logged_in(superuser).get(BEAT_TASKS).status_code == 200


@pytest.mark.parametrize(
    "page",
    ["/admin/auth/user/", "/admin/auth/group/", "/admin/account/emailaddress/", "/admin/mfa/authenticator/"],
)
def test_people_their_emails_and_second_factors_are_for_superusers_only(page, superuser):
    staff = UserFactory(is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label__in=["auth", "account", "mfa"]))
    client = logged_in(staff)
    assert client.get(page).status_code == 403
    assert client.get(f"/admin/auth/user/{superuser.pk}/change/").status_code == 403
    assert logged_in(superuser).get(page).status_code == 200


def test_a_bot_whose_schedule_was_disabled_says_so_on_its_page():
    owner = UserFactory()
    bot = services.bot_start(bot=BotFactory(owner=owner))
    client = logged_in(owner)
    assert "No ticks are scheduled" not in client.get(f"/bots/{bot.pk}/").content.decode()

    PeriodicTask.objects.filter(pk=bot.periodic_task_id).update(enabled=False)

    assert "No ticks are scheduled" in client.get(f"/bots/{bot.pk}/").content.decode()
    services.bot_stop(bot=bot)
    services.bot_start(bot=bot)
    assert "No ticks are scheduled" not in client.get(f"/bots/{bot.pk}/").content.decode()


@pytest.mark.parametrize("who", ["staff", "superuser"])
def test_the_broker_accounts_list_shows_a_live_account(who, staff, superuser):
    user = {"staff": staff, "superuser": superuser}[who]
    BrokerAccount.objects.create(owner=user, name="Real money", kind="alpaca", paper=False)
    response = logged_in(user).get("/admin/bots/brokeraccount/")
    assert response.status_code == 200
    assert "<strong>LIVE (real money)</strong>" in response.content.decode()
