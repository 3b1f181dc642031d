"""Run the dongle application on a PC: the unchanged firmware with the host twins.

Why: everything the dongle does is exercised here against a simulated meter and a real broker.
This puts `firmware/` and `tools/hosttwin/` first on sys.path, writes a host config (unless one
is given), points the UART twin at a byte source and runs `app` like main.py does on the device.

    python tools/run_host.py --uart tcp://127.0.0.1:4000 --mqtt 127.0.0.1:1883
    python tools/run_host.py --uart file:capture.bin          # no --mqtt: print what would go out

UART sources: tcp://HOST:PORT, pty:/dev/pts/N, pipe:PATH, file:PATH, serial:/dev/ttyUSB0, -.
"""

import argparse
import asyncio
import json
import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(ROOT, "firmware"), os.path.join(ROOT, "tools", "hosttwin")]

import app  # noqa: E402
import config  # noqa: E402
import energymode  # noqa: E402
import machine  # noqa: E402
from web import portal, routes  # noqa: E402

_SHORT = 160  # discovery configs are long; the printing client shortens them
DEMO_PASSWORD = "demo-only"  # the page password of PC runs; a dongle has none until set


class PrintClient:
    """umqtt.simple-shaped client that prints each publish instead of sending it."""

    def __init__(self, out=None):
        self.out = out or sys.stdout
        self.sock = None

    def set_callback(self, cb):
        self.cb = cb

    def set_last_will(self, topic, msg, retain=False, qos=0):
        self._print("will", topic, msg, retain)

    def connect(self, clean_session=True):
        return 0

    def publish(self, topic, msg, retain=False, qos=0):
        self._print("publish", topic, msg, retain)

    def subscribe(self, topic, qos=0):
        self._print("subscribe", topic, "", False)

    def check_msg(self):
        return None

    pongs = 0  # answers to ping(), as firmware/mqttclient.py's clients count them

    def ping(self):
        self.pongs += 1

    def _print(self, what, topic, msg, retain):
        if not isinstance(msg, str):
            msg = bytes(msg).decode()
        if len(msg) > _SHORT and topic.endswith("/config"):
            msg = msg[:_SHORT] + "..."
        flag = " (retained)" if retain else ""
        print("{} {}{} {}".format(what, topic, flag, msg), file=self.out, flush=True)


def host_config(args):
    """Settings for a PC run: a named Wi-Fi (the twin joins any), the broker from --mqtt."""
    cfg = config.defaults()
    cfg["wifi"]["ssid"] = "host-twin"
    cfg["log"]["level"] = args.log_level
    cfg["health"]["watchdog_s"] = 0
    cfg["health"]["safe_window_s"] = 0
    cfg["publish"]["diagnostics_s"] = args.diagnostics
    if args.mqtt:
        host, _, port = args.mqtt.rpartition(":")
        cfg["mqtt"]["host"] = host or "127.0.0.1"
        cfg["mqtt"]["port"] = int(port)
    if args.user:
        cfg["mqtt"]["user"] = args.user
        cfg["mqtt"]["password"] = args.password or ""
    if args.prefix:
        cfg["mqtt"]["prefix"] = args.prefix
    if args.client_id:
        cfg["mqtt"]["client_id"] = args.client_id
    cfg["publish"]["per_value_topics"] = args.per_value_topics
    # A PC has the heap for the energy mode (off by default on the dongle): on unless --no-energy.
    cfg["energy"]["enabled"] = args.energy
    cfg["energy"]["ntp_host"] = args.ntp  # none by default: a PC run sends nothing elsewhere
    cfg["http"]["port"] = args.http_port or int(os.environ.get("HTTP_PORT", "8080"))
    # A PC run has a known page password (the dongle itself has none until the owner sets one);
    # --page-password "" starts without one, as a new dongle does.
    cfg["http"]["password"] = args.page_password
    if args.setup:
        cfg["wifi"]["ssid"] = ""  # no network configured: the dongle opens setup mode
    return cfg


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--uart",
        default=os.environ.get("HANPORT_UART", "none"),
        help="where meter bytes come from (see module docstring)",
    )
    parser.add_argument("--mqtt", metavar="HOST:PORT", help="broker; without it, print")
    parser.add_argument("--no-energy", dest="energy", action="store_false",
                        help="leave the energy mode off, as on a new dongle")
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--prefix", help="topic prefix (default hanport)")
    parser.add_argument("--client-id")
    parser.add_argument("--per-value-topics", action="store_true")
    parser.add_argument(
        "--diagnostics",
        type=int,
        default=60,
        metavar="S",
        help="diagnostics message period in seconds (0 = off)",
    )
    parser.add_argument(
        "--http-port", type=int, help="HTTP port (default $HTTP_PORT or 8080; 0 = any free)"
    )
    parser.add_argument(
        "--dns-port", type=int, default=0, help="setup-mode DNS port on 127.0.0.1 (0 = any)"
    )
    parser.add_argument("--setup", action="store_true", help="start without Wi-Fi: setup mode")
    parser.add_argument(
        "--page-password",
        default=DEMO_PASSWORD,
        help="password of the settings page, user admin (default %(default)s; '' = none yet)",
    )
    parser.add_argument("--config", help="use this config file instead of a generated one")
    parser.add_argument("--boards", default=os.path.join(ROOT, "boards"))
    parser.add_argument("--ntp", default="", metavar="HOST", help="energy clock's NTP server")
    parser.add_argument(
        "--energy-dir", help="where the energy state is kept (default: a temporary folder)"
    )
    parser.add_argument(
        "--log-level", default="info", choices=("debug", "info", "warning", "error")
    )
    parser.add_argument("--duration", type=float, help="stop after this many seconds")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    machine.UART_SOURCE = args.uart
    routes.WWW_DIR = os.path.join(ROOT, "firmware", "www")
    portal.DNS_HOST = "127.0.0.1"
    portal.DNS_PORT = args.dns_port
    path = args.config
    if path is None:
        handle, path = tempfile.mkstemp(prefix="hanport-config-", suffix=".json")
        with os.fdopen(handle, "w") as f:
            json.dump(host_config(args), f)
    make_client = None if args.mqtt else PrintClient
    energy_dir = args.energy_dir or tempfile.mkdtemp(prefix="hanport-energy-")
    energymode.STATE_PATH = os.path.join(energy_dir, "energy.json")
    energymode.HOURS_PATH = os.path.join(energy_dir, "energy.hours")
    try:
        the_app = app.build(path, args.boards, make_client)
        if the_app is None:
            return 1
        if args.http_port is not None and the_app.web is not None:
            the_app.web.port = args.http_port
        try:
            asyncio.run(asyncio.wait_for(the_app.run(), args.duration))
        except asyncio.TimeoutError:
            pass
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        if args.config is None:
            os.remove(path)
        if args.energy_dir is None:
            import shutil

            shutil.rmtree(energy_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
