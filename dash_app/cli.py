"""``python -m dash_app``: resolve the config, then serve the ASGI app with uvicorn."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Sequence

import uvicorn

from . import config as config_mod
from .errors import ConfigError

GRACEFUL_SHUTDOWN_S = 5  # then uvicorn cancels what still waits on a socket


def main(argv: Sequence[str] | None = None) -> int:
    try:
        cfg, args = config_mod.load(argv)
        config_mod.check_kafka_settings(cfg.kafka)  # a KAFKA_* typo is a config error, not a retry loop
    except ConfigError as exc:
        print(f"dash_app: {exc}", file=sys.stderr)
        return 2
    if args.print_config:
        print(json.dumps(cfg.masked(), indent=2, sort_keys=True))
        return 0
    logging.basicConfig(
        level=cfg.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from .app import create_app  # imported late: --help and config errors stay fast

    app = create_app(cfg)
    url = f"http://{cfg.host}:{cfg.port}{cfg.url_prefix}"
    logging.getLogger("dash_app").info(
        "serving %s (Kafka %s, topic %s)", url, cfg.bootstrap_servers, cfg.topic
    )
    # A frozen tab can hold a full socket that no close frame gets through; without a bound, SIGTERM
    # waited for it until the ping timeout or the client timeout (a minute, measured) and systemd
    # would have killed the relay.
    uvicorn.run(app, host=cfg.host, port=cfg.port, log_level=cfg.log_level, ws="websockets-sansio",
                ws_max_size=cfg.ws_max_message_bytes, timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S)
    return 0
