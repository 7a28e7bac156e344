"""`python -m service [flags]`: run the screencodec gRPC server (flags: `python -m service --help`)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence

from service.config import parse_config
from service.logs import configure_logging
from service.models import runtime_loader
from service.server import serve


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_config(argv)
    configure_logging(config.log_level)
    return asyncio.run(serve(config, runtime_loader(config)))


if __name__ == "__main__":
    sys.exit(main())
