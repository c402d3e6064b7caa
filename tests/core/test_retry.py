"""The one retry policy (config.core.retry): equal-jitter backoff that ends at a budget or a count."""

from config.core import retry


def test_storage_retries_wait_out_their_budget_then_stop(settings):
    settings.STORAGE_RETRY_BUDGET_SECONDS = 60
    policy = retry.STORAGE
    # Ceilings 2, 4, 8, 16, 30, 30, 30 s; each wait at least half its ceiling: 60 s after 7.
    assert policy.max_retries == 7
    for n in range(7):
        ceiling = min(30.0, 2.0 * 2**n)
        assert ceiling / 2 <= policy.countdown(n) <= ceiling
    assert policy.countdown(7) is None


def test_smtp_retries_stop_after_five_and_never_wait_past_the_cap(settings):
    settings.NOTIFICATIONS_RETRY_BASE_SECONDS = 20.0
    settings.BACKROOM_MAX_COUNTDOWN = 100
    policy = retry.SMTP
    assert policy.max_retries == 5
    assert 10.0 <= policy.countdown(0) <= 20.0
    assert 50.0 <= policy.countdown(4) <= 100.0  # 20 * 2**4 = 320, capped at 100
    assert policy.countdown(5) is None
