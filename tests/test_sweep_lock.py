"""Sweeps queued by beat run in one worker at a time (assets.tasks.one_run_at_a_time): with two beats, or a sweep
slower than its interval, a second run finds the lock taken and does nothing."""

from django.core.cache import cache

from assets import tasks as asset_tasks
from uploads import tasks as upload_tasks


def test_a_sweep_started_while_another_runs_does_nothing(monkeypatch, db):
    inner = []

    def sweep_that_overlaps(**kwargs):
        # While this run holds the lock, beat (or a second beat) queues the same sweep again.
        inner.append(upload_tasks.clean_up_abandoned_uploads())
        return {"previews": 0}

    monkeypatch.setattr(upload_tasks, "uploads_clean_up", sweep_that_overlaps)

    assert upload_tasks.clean_up_abandoned_uploads() == {"previews": 0}
    assert inner == [None]


def test_the_lock_is_given_back_after_a_run_and_after_a_failure(monkeypatch, db):
    runs = []
    monkeypatch.setattr(asset_tasks.services, "assets_recover_stalled", lambda: runs.append(1) or {"recovered": 0})

    asset_tasks.recover_stalled_preprocessing()
    asset_tasks.recover_stalled_preprocessing()

    assert runs == [1, 1]

    def broken():
        raise RuntimeError("database went away")

    monkeypatch.setattr(asset_tasks.services, "assets_recover_stalled", broken)
    try:
        asset_tasks.recover_stalled_preprocessing()
    except RuntimeError:
        pass
    monkeypatch.setattr(asset_tasks.services, "assets_recover_stalled", lambda: {"recovered": 0})
    assert asset_tasks.recover_stalled_preprocessing() == {"recovered": 0}


def test_each_sweep_has_a_lock_of_its_own(monkeypatch, db):
    monkeypatch.setattr(upload_tasks, "uploads_clean_up", lambda **kwargs: {"previews": 0})
    cache.add("sweep-lock:assets.tasks.recover_stalled_preprocessing", "held elsewhere", timeout=60)

    assert asset_tasks.recover_stalled_preprocessing() is None
    assert upload_tasks.clean_up_abandoned_uploads() == {"previews": 0}
