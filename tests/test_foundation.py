"""Settings, key prefixes, the Redis factory and the long-running roles starting for real."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis as redis_lib
from rq import Queue

from core.durations import format_duration, parse_duration
from core.errors import ConfigError
from core.keys import Keys
from core.redisconn import connect
from core.settings import Settings, load_settings
from workers.enqueue import QUEUE_NAMES, all_queues

ROOT = Path(__file__).resolve().parents[1]


def test_settings_read_environment_and_hide_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-secret-value")
    monkeypatch.setenv("REEWATCH_ADMINS", "U1, U2 ,U3")
    monkeypatch.setenv("REEWATCH_REDIS_PREFIX", "team-a:")
    monkeypatch.setenv("REEWATCH_ALLOW_PRIVATE_NETWORKS", "true")
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert s.admins == ["U1", "U2", "U3"]
    assert s.redis_prefix == "team-a:"
    assert s.allow_private_networks is True
    assert "xoxb-secret-value" not in repr(s) and "xoxb-secret-value" not in str(s.model_dump())
    assert s.slack_bot_token is not None and s.slack_bot_token.get_secret_value() == "xoxb-secret-value"


def test_env_file_is_honoured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("REEWATCH_COMMAND=/rare\nREEWATCH_LOG_FORMAT=json\n")
    monkeypatch.chdir(tmp_path)
    s = Settings()
    assert (s.command, s.log_format) == ("/rare", "json")


def test_bad_settings_become_one_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REEWATCH_COMMAND", "ree")
    with pytest.raises(ConfigError, match=r"REEWATCH_COMMAND: .*must start with"):
        load_settings(_env_file=None)


def test_require_slack_names_missing_variables() -> None:
    s = Settings(_env_file=None, slack_bot_token=None, slack_signing_secret=None)  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET"):
        s.require_slack()


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("5m", 300), ("1h", 3600), ("1h30m", 5400),
                                                ("2d", 172800), (45, 45), ("1.5", 1.5)])
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_duration_format_round_trips() -> None:
    for seconds in (1, 59, 61, 3600, 90061):
        assert parse_duration(format_duration(seconds)) == seconds
    with pytest.raises(ValueError):
        parse_duration("soon")


def test_every_key_and_queue_carries_the_prefix(settings: Settings, redis: redis_lib.Redis) -> None:
    keys = Keys(settings.redis_prefix)
    produced = [getattr(keys, name)(*(["x"] * fn.__code__.co_argcount)[1:])
                for name, fn in vars(Keys).items() if callable(fn) and not name.startswith("_") and name != "patterns"]
    assert produced and all(settings.redis_prefix.rstrip(":").replace(":", "-") in k or
                            k.startswith(settings.redis_prefix) for k in produced)
    rq_redis = connect(settings.redis_url or "", decode=False)
    queues = all_queues(keys, rq_redis)
    assert [q.name for q in queues] == [keys.queue(n) for n in QUEUE_NAMES]
    queues[0].enqueue("builtins.len", [1, 2], job_id=keys.job_id("probe"))
    written = {k for k in redis.scan_iter(match="*") if settings.redis_prefix in k
               or settings.redis_prefix.replace(":", "-") in k}
    assert any(k.startswith("rq:queue:" + settings.redis_prefix) for k in written)
    owned = {k for pattern in keys.patterns() for k in redis.scan_iter(match=pattern)}
    assert owned >= written
    assert any(k.startswith("rq:job:" + settings.redis_prefix.replace(":", "-")) for k in owned)


def test_burst_worker_runs_a_real_job(settings: Settings, keys: Keys, burst_worker) -> None:  # type: ignore[no-untyped-def]
    q = Queue(keys.queue("poll"), connection=connect(settings.redis_url or "", decode=False))
    job = q.enqueue("builtins.sum", [1, 2, 3], job_id=keys.job_id("sum"))
    burst_worker()
    assert job.get_status(refresh=True) == "finished"
    assert job.return_value() == 6


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "REEWATCH_", "REDIS_URL"))}
    env.update(extra)
    return env


def test_run_without_slack_tokens_refuses_naming_the_variables(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "bot.cli", "run"], capture_output=True, text=True,
                            cwd=tmp_path, env=_env(REEWATCH_FEEDS_FILE=str(ROOT / "feeds.yaml")), timeout=60)
    assert result.returncode == 2
    assert "SLACK_BOT_TOKEN" in result.stderr and "SLACK_SIGNING_SECRET" in result.stderr
    assert "Traceback" not in result.stderr


def test_worker_without_redis_url_explains(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "bot.cli", "worker", "--burst"], capture_output=True,
                            text=True, cwd=tmp_path, env=_env(), timeout=60)
    assert result.returncode == 2 and "REDIS_URL" in result.stderr


def test_worker_and_scheduler_start_for_real(settings: Settings, redis: redis_lib.Redis, tmp_path: Path) -> None:
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("feeds: []\n")
    env = _env(REDIS_URL=settings.redis_url or "", REEWATCH_REDIS_PREFIX=settings.redis_prefix,
               REEWATCH_FEEDS_FILE=str(feeds))
    keys = Keys(settings.redis_prefix)
    q = Queue(keys.queue("deliver"), connection=connect(settings.redis_url or "", decode=False))
    job = q.enqueue("builtins.max", [4, 9], job_id=keys.job_id("max"))
    burst = subprocess.run([sys.executable, "-m", "bot.cli", "worker", "--burst"], capture_output=True, text=True,
                           cwd=ROOT, env=env, timeout=60)
    assert burst.returncode == 0, burst.stderr
    assert job.get_status(refresh=True) == "finished" and job.return_value() == 9

    sched = subprocess.Popen([sys.executable, "-m", "bot.cli", "scheduler"], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        tick_queue = Queue(keys.queue("poll"), connection=connect(settings.redis_url or "", decode=False))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and tick_queue.count == 0:
            time.sleep(0.2)
        assert tick_queue.count >= 1, "the scheduler enqueued no tick"
        assert tick_queue.jobs[0].func_name == "workers.tasks.tick"
    finally:
        sched.send_signal(signal.SIGTERM)
        sched.wait(timeout=20)


def test_delete_deployment_leaves_nothing_of_the_prefix(settings: Settings, redis: redis_lib.Redis,
                                                        burst_worker) -> None:  # type: ignore[no-untyped-def]
    from core.redisconn import delete_deployment
    from workers.runner import make_scheduler

    keys = Keys(settings.redis_prefix)
    q = Queue(keys.queue("ingest"), connection=connect(settings.redis_url or "", decode=False))
    q.enqueue("builtins.len", [1], job_id=keys.job_id("probe"))
    burst_worker()
    cron = make_scheduler(settings)
    cron.register_birth()
    cron.enqueue_jobs()
    cron.save()
    marks = (settings.redis_prefix, settings.redis_prefix.replace(":", "-"))
    assert any(any(m in k for m in marks) for k in redis.scan_iter(match="*"))
    cron_jobs = [j for n in ("poll", "ingest", "deliver", "escalate")
                 for j in redis.lrange("rq:queue:" + keys.queue(n), 0, -1)]
    assert cron_jobs and all(redis.exists(f"rq:job:{j}") for j in cron_jobs)
    assert not any(any(m in j for m in marks) for j in cron_jobs), "cron's job ids carry no prefix"
    assert delete_deployment(redis, keys) > 0
    assert not [j for j in cron_jobs if redis.exists(f"rq:job:{j}")]
    assert not [k for k in redis.scan_iter(match="*") if any(m in k for m in marks)]
    for shared in ("rq:queues", "rq:workers", "rq:cron_schedulers"):
        assert not [m for m in redis.smembers(shared) if any(mark in m for mark in marks)]


def test_readme_documents_every_setting() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    names = [f.validation_alias.choices[0] for f in Settings.model_fields.values()  # type: ignore[union-attr]
             if f.validation_alias is not None]
    assert len(names) == len(Settings.model_fields)
    assert [n for n in names if f"`{n}`" not in readme] == []
