"""Signing in (AppTest against the real store): wrong passwords and unknown names are refused, nothing but the
form is shown before a sign-in, users come from the settings file and from the database."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.dashboard.conftest import CARER, CARER_PASSWORD, NURSE, NURSE_PASSWORD, Site, app, sign_in, texts


def _shows_nothing_but_the_form(at: AppTest) -> None:
    assert not at.exception
    assert [b.label for b in at.button] == ["Sign in"]
    assert len(at.image) == 0 and len(at.metric) == 0 and len(at.dataframe) == 0
    assert not any("<img" in h.value or "<video" in h.value for h in at.html)
    assert "Needs attention" not in texts(at) and "Signed in as" not in texts(at)


def test_a_wrong_password_is_refused(site: Site) -> None:
    at = app().run()
    _shows_nothing_but_the_form(at)
    sign_in(at, NURSE, "not-the-password")
    _shows_nothing_but_the_form(at)
    assert [e.value for e in at.error] == ["Wrong user name or password."]


def test_an_unknown_user_gets_the_same_answer(site: Site) -> None:
    at = app().run()
    sign_in(at, "nobody", NURSE_PASSWORD)
    _shows_nothing_but_the_form(at)
    assert [e.value for e in at.error] == ["Wrong user name or password."]


def test_an_incident_link_without_sign_in_shows_only_the_form(site: Site) -> None:
    at = app()
    at.query_params["id"] = "1"
    at.run()
    _shows_nothing_but_the_form(at)


def test_a_page_run_without_the_entry_script_shows_nothing_without_sign_in(site: Site) -> None:
    """Each page checks the sign-in itself too, in case it is ever reached some other way."""

    def page() -> None:
        from fallwatch.dashboard.views import incident

        incident.render()

    at = AppTest.from_function(page, default_timeout=60)
    at.query_params["id"] = "1"
    at.run()
    assert [w.value for w in at.warning] == ["Please sign in."]
    assert len(at.image) == 0 and len(at.title) == 0 and len(at.html) == 0


def test_users_from_the_settings_file_and_the_database_sign_in(site: Site) -> None:
    for name, password in ((NURSE, NURSE_PASSWORD), (CARER, CARER_PASSWORD)):
        at = app().run()
        sign_in(at, name, password)
        assert not at.exception
        assert f"Signed in as **{name}**" in texts(at)
        assert "Needs attention" in texts(at)


def test_too_many_wrong_passwords_lock_the_name_out(site: Site) -> None:
    at = app().run()
    for _ in range(5):
        sign_in(at, CARER, "wrong-password")
    sign_in(at, CARER, CARER_PASSWORD)  # even the right one, for now
    assert "Too many wrong passwords" in at.error[0].value
    assert "Signed in as" not in texts(at)


def test_signing_out_returns_to_the_form(site: Site) -> None:
    at = app().run()
    sign_in(at, NURSE, NURSE_PASSWORD)
    at.button(key="sign_out").click().run()
    _shows_nothing_but_the_form(at)
