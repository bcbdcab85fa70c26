"""Home Assistant over MQTT with real Mosquittos: discovery (checked against the documented schema), removal of
cameras that left, availability, review commands; and brokers of the test's own that ask for a password and for
TLS with certificates made here."""

from __future__ import annotations

import getpass
import json
import queue
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fallwatch.alerts.notifiers.home_assistant import HomeAssistantBridge, discovery
from fallwatch.alerts.notifiers.mqtt import BrokerOptions, BrokerRefused, MqttSession
from fallwatch.alerts.records import Status
from fallwatch.alerts.store import Store, open_store
from fallwatch.core.config import HomeAssistantConfig, MqttConfig
from fallwatch.core.errors import FallWatchError
from tests.alerts.conftest import fall_items

HOST, PORT = "127.0.0.1", 1883

# Home Assistant's MQTT discovery documentation: what each component needs, and what every entity of a device
# needs (a unique id, the device's identifiers, availability topics).
REQUIRED = {
    "binary_sensor": {"state_topic"},
    "sensor": {"state_topic"},
    "image": {"image_topic"},
    "button": {"command_topic"},
}
COMMON = {"name", "unique_id", "device", "availability", "availability_mode", "origin"}
ALLOWED = COMMON | {
    "object_id", "device_class", "value_template", "json_attributes_topic", "icon", "content_type", "options",
    "entity_category", "payload_press", "state_topic", "image_topic", "command_topic",
}  # fmt: skip


def check_schema(topic: str, payload: dict[str, Any], discovery_prefix: str) -> None:
    prefix, component, node, object_id, tail = topic.split("/")
    assert (prefix, tail) == (discovery_prefix, "config") and component in REQUIRED
    for part in (node, object_id):
        assert part and all(c.isalnum() or c in "_-" for c in part), part
    assert REQUIRED[component] | COMMON <= set(payload) <= ALLOWED, set(payload) ^ ALLOWED
    assert payload["device"]["identifiers"] and payload["device"]["sw_version"]
    assert all(a["topic"] and "payload_available" not in a for a in payload["availability"])
    if payload.get("device_class") == "enum":
        assert payload["options"]


def mqtt_config(commands: bool = False) -> MqttConfig:
    run = uuid.uuid4().hex[:8]  # topics of this test only: retained messages outlive it on the shared broker
    ha = HomeAssistantConfig(discovery_prefix=f"ha-{run}", node_id=f"fw-{run}", commands=commands, poll_s=0.2)
    return MqttConfig(enabled=True, host=HOST, port=PORT, topic_prefix=f"fw-{run}", home_assistant=ha)


class Listener:
    """A real subscriber that keeps the last retained-or-live payload of each topic."""

    def __init__(self, pattern: str) -> None:
        self.last: dict[str, bytes] = {}
        self.arrivals: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self._session = MqttSession(BrokerOptions())
        self._session.subscribe(pattern, self._got)

    def _got(self, topic: str, payload: bytes) -> None:
        self.last[topic] = payload
        self.arrivals.put((topic, payload))

    def wait_for(self, topic: str, payload: bytes, timeout_s: float = 20.0) -> None:
        deadline = time.monotonic() + timeout_s
        while self.last.get(topic) != payload:
            assert time.monotonic() < deadline, f"{topic}: {self.last.get(topic)!r}, expected {payload!r}"
            time.sleep(0.05)

    def close(self) -> None:
        self._session.close()


pytestmark = pytest.mark.usefixtures("mqtt_broker")


def bridge(store: Store, cameras: list[str], config: MqttConfig, media: Path) -> HomeAssistantBridge:
    options = BrokerOptions.from_config(config, None)
    return HomeAssistantBridge(store, cameras, config, media, lambda will: MqttSession(options, will))


def test_every_discovery_message_follows_home_assistants_schema() -> None:
    config = mqtt_config(commands=True)
    messages = {**discovery(config, "hall"), **discovery(config, "ward.2")}
    for topic, payload in messages.items():
        check_schema(topic, payload, config.home_assistant.discovery_prefix)
    ids = [p["unique_id"] for p in messages.values()]
    assert len(ids) == len(set(ids)) == 12  # 4 entities and 2 buttons a camera, none shared
    devices = {p["device"]["identifiers"][0] for p in messages.values()}
    assert devices == {"fallwatch_hall", "fallwatch_ward.2"}  # one device a camera
    assert {t.split("/")[1] for t in messages} == {"binary_sensor", "sensor", "image", "button"}
    assert not any("button" in t for t in discovery(mqtt_config(commands=False), "hall"))


def test_discovery_is_retained_and_a_camera_that_left_is_removed(tmp_path: Path) -> None:
    config = mqtt_config()
    ha = config.home_assistant
    store = open_store(f"sqlite:///{tmp_path / 'fw.db'}")
    first = bridge(store, ["hall", "kitchen"], config, tmp_path).start()
    first.stop()
    late = Listener(f"{ha.discovery_prefix}/#")  # connects afterwards: sees only what is retained
    try:
        kitchen = f"{ha.discovery_prefix}/binary_sensor/{ha.node_id}/kitchen_fall/config"
        late.wait_for(kitchen, json.dumps(discovery(config, "kitchen")[kitchen], sort_keys=True).encode())
        assert len(late.last) == 8
        for topic, payload in late.last.items():
            check_schema(topic, json.loads(payload), ha.discovery_prefix)
        second = bridge(store, ["hall"], config, tmp_path).start()  # kitchen left the settings
        late.wait_for(kitchen, b"")
        second.stop()
        gone = [t for t, p in late.last.items() if not p]
        assert len(gone) == 4 and all("/kitchen_" in t for t in gone)
    finally:
        _clear(late, config)
        late.close()
        store.close()


def test_availability_and_states_follow_the_store(tmp_path: Path) -> None:
    config = mqtt_config()
    store = open_store(f"sqlite:///{tmp_path / 'fw.db'}")
    (tmp_path / "hall").mkdir()
    listener = Listener(f"{config.topic_prefix}/#")
    running = bridge(store, ["hall"], config, tmp_path).start()
    try:
        listener.wait_for(f"{config.topic_prefix}/availability", b"online")
        listener.wait_for(f"{config.topic_prefix}/hall/availability", b"offline")  # no worker report yet
        store.cameras.report("hall", "connected", 10.0, 0, 0)  # type: ignore[arg-type]
        listener.wait_for(f"{config.topic_prefix}/hall/connection", b"connected")
        listener.wait_for(f"{config.topic_prefix}/hall/availability", b"online")
        for item in fall_items("hall")[:2]:  # opened, then escalated: a collapse still followed
            store.incidents.apply(item)
        deadline = time.monotonic() + 20
        while b"collapse" not in listener.last.get(f"{config.topic_prefix}/hall/last_incident", b""):
            assert time.monotonic() < deadline, listener.last
            time.sleep(0.05)
        last = json.loads(listener.last[f"{config.topic_prefix}/hall/last_incident"])
        assert (last["kind"], last["severity"], last["status"]) == ("collapse", "critical", "open")
        state = json.loads(listener.last[f"{config.topic_prefix}/hall/state"])
        assert state["alarm"] is True
    finally:
        running.stop()
        listener.wait_for(f"{config.topic_prefix}/availability", b"offline")  # said on a clean stop
        _clear(listener, config)
        listener.close()
        store.close()


def test_an_acknowledge_from_home_assistant_is_recorded_as_the_dashboard_records_it(tmp_path: Path) -> None:
    config = mqtt_config(commands=True)
    store = open_store(f"sqlite:///{tmp_path / 'fw.db'}")
    for item in fall_items("hall")[:2]:
        store.incidents.apply(item)
    [incident] = store.incidents.query()
    running = bridge(store, ["hall"], config, tmp_path).start()
    sender = MqttSession(BrokerOptions())
    try:
        sender.publish(f"{config.topic_prefix}/hall/command", "acknowledge", retain=False)
        deadline = time.monotonic() + 20
        while store.incidents.get(incident.id).status is Status.OPEN:
            assert time.monotonic() < deadline, "the command did not reach the store"
            time.sleep(0.05)
        after = store.incidents.get(incident.id)
        assert (after.status, after.updated_by) == (Status.ACKNOWLEDGED, "home-assistant")
        change = store.incidents.changes(incident.id)[-1]
        assert (change.by, change.field, change.new, change.note) == (
            "home-assistant", "status", "acknowledged", "from Home Assistant",
        )  # fmt: skip
        with pytest.raises(FallWatchError, match="has no open incident"):
            running.review("hall", "false_alarm")
        with pytest.raises(FallWatchError, match="expected acknowledge, false_alarm"):
            running.review("hall", "reboot")
    finally:
        sender.close()
        running.stop()
        store.close()


def _said(listener: Listener, topic: str, payload: bytes, timeout_s: float = 20.0) -> None:
    """Until `payload` arrives on `topic` (live, not the last retained one only)."""
    deadline = time.monotonic() + timeout_s
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"{topic}: no {payload!r} within {timeout_s} s"
        try:
            got = listener.arrivals.get(timeout=remaining)
        except queue.Empty:
            continue
        if got == (topic, payload):
            return


def _die(running: HomeAssistantBridge) -> None:
    """The worker's process dies: its connection drops without a word, and the broker sends its last will."""
    running._stop.set()
    session = running._session
    assert session is not None
    client = session._client
    client.loop_stop()  # no reconnection: the process is gone
    sock = client.socket()
    assert sock is not None
    sock.close()


def test_one_worker_that_dies_or_stops_does_not_grey_out_a_worker_that_runs(tmp_path: Path) -> None:
    # Regression: every worker's last will says offline on the one availability topic, so one worker's death
    # made every entity unavailable, the fall sensor included, while the others went on watching.
    config = mqtt_config()
    store = open_store(f"sqlite:///{tmp_path / 'fw.db'}")
    availability = f"{config.topic_prefix}/availability"
    listener = Listener(f"{config.topic_prefix}/#")
    staying = bridge(store, ["hall"], config, tmp_path).start()
    dying = bridge(store, ["hall"], config, tmp_path).start()
    stopping = bridge(store, ["hall"], config, tmp_path).start()
    try:
        listener.wait_for(availability, b"online")
        _die(dying)
        _said(listener, availability, b"offline")  # the broker's last will for the dead one
        _said(listener, availability, b"online")  # and the running one says online again
        stopping.stop()
        _said(listener, availability, b"offline")
        _said(listener, availability, b"online")
        time.sleep(1.0)  # several polls: nothing more to say
        assert listener.last[availability] == b"online"
    finally:
        staying.stop()
        listener.wait_for(availability, b"offline")  # the last one to stop: FallWatch is offline
        _clear(listener, config)
        listener.close()
        store.close()


def _clear(listener: Listener, config: MqttConfig) -> None:
    """Leave the shared broker as it was: no retained messages of this test."""
    session = MqttSession(BrokerOptions())
    for topic, payload in list(listener.last.items()):
        if payload:
            session.publish(topic, b"", retain=True)
    session.publish(f"{config.topic_prefix}/availability", b"", retain=True)
    session.close()


# --- brokers of the test's own: a password file, and TLS --------------------------------------------------------


@dataclass
class SecureBroker:
    plain_port: int
    tls_port: int
    ca_file: Path
    other_ca: Path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _make_ca(folder: Path, name: str) -> None:
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
             "-keyout", f"{name}.key", "-out", f"{name}.pem", cwd=folder)  # fmt: skip


@pytest.fixture(scope="module")
def secure_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    if shutil.which("mosquitto") is None or shutil.which("openssl") is None:
        pytest.skip("needs mosquitto and openssl (Debian's mosquitto, openssl)")
    folder = tmp_path_factory.mktemp("broker")
    _make_ca(folder, "ca")
    _make_ca(folder, "other")
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key",
             "-out", "server.csr", cwd=folder)  # fmt: skip
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-days", "2", "-extfile", "san.ext", "-out", "server.pem", cwd=folder)  # fmt: skip
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(folder / "passwords"), "fallwatch", "right-password"],
                   check=True, capture_output=True, timeout=30)  # fmt: skip
    plain, tls = _free_port(), _free_port()
    (folder / "mosquitto.conf").write_text(
        # As root, Mosquitto would drop to the `mosquitto` user, who cannot read this test's folder.
        f"user {getpass.getuser()}\nper_listener_settings true\n"
        f"listener {plain} 127.0.0.1\nallow_anonymous false\npassword_file {folder / 'passwords'}\n"
        f"listener {tls} 127.0.0.1\nallow_anonymous true\ncafile {folder / 'ca.pem'}\n"
        f"certfile {folder / 'server.pem'}\nkeyfile {folder / 'server.key'}\n"
    )
    process = subprocess.Popen(["mosquitto", "-c", str(folder / "mosquitto.conf")],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", tls), timeout=1).close()
                socket.create_connection(("127.0.0.1", plain), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, process.communicate()[0]
                time.sleep(0.1)
        yield SecureBroker(plain, tls, folder / "ca.pem", folder / "other.pem")
    finally:
        process.terminate()
        process.wait(10)


def test_the_right_password_connects_and_a_wrong_one_is_one_line(secure_broker: SecureBroker) -> None:
    right = BrokerOptions(port=secure_broker.plain_port, username="fallwatch", password="right-password")
    MqttSession(right).close()
    for username, password in (("fallwatch", "wrong"), (None, None)):
        wrong = BrokerOptions(port=secure_broker.plain_port, username=username, password=password)
        with pytest.raises(BrokerRefused) as refused:
            MqttSession(wrong)
        message = str(refused.value)
        assert message.startswith(
            f"MQTT broker 127.0.0.1:{secure_broker.plain_port} refused the connection: "
        )
        assert "\n" not in message and ("password" in message or "authorized" in message)


def test_tls_with_the_brokers_ca_connects_and_an_untrusted_certificate_is_one_line(
    secure_broker: SecureBroker,
) -> None:
    trusted = BrokerOptions(port=secure_broker.tls_port, tls=True, ca_file=secure_broker.ca_file)
    session = MqttSession(trusted)
    session.publish("fw-tls/hello", "over TLS", retain=False)
    session.close()
    untrusted = BrokerOptions(port=secure_broker.tls_port, tls=True, ca_file=secure_broker.other_ca)
    with pytest.raises(BrokerRefused) as refused:
        MqttSession(untrusted)
    message = str(refused.value)
    assert message.startswith(f"MQTT broker 127.0.0.1:{secure_broker.tls_port}: TLS failed (")
    assert "certificate verify failed" in message and "\n" not in message


def test_a_key_without_its_certificate_or_a_missing_file_is_refused_in_the_settings(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cert_file and key_file go together"):
        MqttConfig(key_file=tmp_path / "k.pem")
    with pytest.raises(ValueError, match=r"ca_file '.*nothing\.pem': no such file"):
        MqttConfig(ca_file=tmp_path / "nothing.pem")
