"""The alerts sections of the configuration: zones, receivers, secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from fallwatch.core.config import load_settings, webhook_secret
from fallwatch.core.errors import FallWatchError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fallwatch.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_zones_receivers_and_mqtt_load_from_yaml(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
alerts:
  collapse_after_s: 20
  zones:
    bedroom:
      - {name: bed, kind: rest, points: [[0, 200], [300, 200], [300, 400], [0, 400]]}
      - {name: tv, kind: ignore, points: [[400, 0], [600, 0], [600, 150]]}
notify:
  webhooks: [{name: ops, url: "https://ops.example/fallwatch"}]
  mqtt: {enabled: true}
""",
    )
    settings = load_settings(path)
    assert settings.alerts.collapse_after_s == 20
    assert [z.kind for z in settings.alerts.zones["bedroom"]] == ["rest", "ignore"]
    assert settings.notify.webhooks[0].url == "https://ops.example/fallwatch" and settings.notify.mqtt.enabled


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        (
            "{name: bed, kind: rest, points: [[0, 0], [1, 1]]}",
            "alerts.zones.bedroom.0.points: List should have at least 3",
        ),
        ("{name: bed, kind: rest, points: [[0, 0], [2, 2], [2, 0], [0, 2]]}", "edges must not cross"),
        ("{name: bed, kind: rest, points: [[0, 0], [1, 1], [2, 2]]}", "must enclose an area"),
        ("{name: bed, kind: sofa, points: [[0, 0], [1, 0], [0, 1]]}", "alerts.zones.bedroom.0.kind"),
    ],
)
def test_an_invalid_zone_is_one_line_naming_the_key(tmp_path: Path, zone: str, expected: str) -> None:
    path = write(tmp_path, f"alerts:\n  zones:\n    bedroom:\n      - {zone}\n")
    with pytest.raises(FallWatchError) as caught:
        load_settings(path)
    message = str(caught.value)
    assert expected in message and str(path) in message and "\n" not in message


def test_the_webhook_secret_comes_only_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FALLWATCH_WEBHOOK_SECRET", "from-env")
    assert webhook_secret() == "from-env"
    load_settings()  # the variable is not mistaken for a setting
    with pytest.raises(FallWatchError, match=r"notify\.webhook_secret: unknown key"):
        load_settings(write(tmp_path, "notify:\n  webhook_secret: in-a-file\n"))
    monkeypatch.delenv("FALLWATCH_WEBHOOK_SECRET")
    assert webhook_secret() is None


def test_backoff_bounds_are_checked(tmp_path: Path) -> None:
    with pytest.raises(FallWatchError, match="backoff_max_s must be >= backoff_initial_s"):
        load_settings(write(tmp_path, "notify:\n  backoff_initial_s: 10\n  backoff_max_s: 1\n"))
