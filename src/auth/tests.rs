//! Tokens, digests and the rate limiters, with the clock given by the test.

use super::*;

#[test]
fn new_tokens_are_long_url_safe_and_different() {
    let a = new_token();
    let b = new_token();
    assert_ne!(a, b);
    assert_eq!(a.len(), 32);
    assert!(
        a.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    );
}

#[test]
fn comparison_is_right_for_equal_unequal_and_different_length_secrets() {
    assert!(secrets_equal(b"s3cret-token-value", b"s3cret-token-value"));
    assert!(!secrets_equal(b"s3cret-token-value", b"s3cret-token-valuf"));
    assert!(!secrets_equal(b"s3cret-token-value", b"s3cret"));
    assert!(!secrets_equal(b"", b"x"));
    assert!(secrets_equal(b"", b""));
    let digest = TokenDigest::of("team1-token");
    assert!(digest.matches("team1-token"));
    assert!(!digest.matches("team1-tokeN"));
    assert!(!digest.matches("team1-token "));
    assert!(!digest.matches(""));
}

#[test]
fn a_keyed_value_depends_on_key_purpose_and_digest_and_shows_no_token() {
    let digest = TokenDigest::of("viewer-token-0123456789");
    let (key, other_key) = ([7u8; 32], [8u8; 32]);
    let value = digest.keyed(b"cookie", &key);
    assert_eq!(value, digest.keyed(b"cookie", &key));
    assert_ne!(value, digest.keyed(b"cookie", &other_key));
    assert_ne!(value, digest.keyed(b"other", &key));
    assert_ne!(value, TokenDigest::of("another").keyed(b"cookie", &key));
    assert!(!value.contains("viewer") && !value.contains(&digest.to_hex()));
    assert_eq!(value.len(), 43, "256 bits in URL-safe base64");
}

#[test]
fn digests_round_trip_through_hex_and_never_show_in_debug() {
    let digest = TokenDigest::of("abc");
    assert_eq!(
        digest.to_hex(),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(TokenDigest::from_hex(&digest.to_hex()), Some(digest));
    assert_eq!(
        TokenDigest::from_hex(&digest.to_hex().to_uppercase()),
        Some(digest)
    );
    assert_eq!(TokenDigest::from_hex("abc"), None);
    assert_eq!(TokenDigest::from_hex(&"g".repeat(64)), None);
    assert_eq!(TokenDigest::from_hex(&"é".repeat(32)), None);
    assert!(!format!("{digest:?}").contains("ba78"));
}

#[test]
fn report_limit_allows_the_burst_then_the_rate() {
    let start = Instant::now();
    let mut limiter = report_rate_limiter::<&str>(20);
    for _ in 0..40 {
        assert!(limiter.take(&"t1", start).is_ok());
    }
    let refused = limiter.take(&"t1", start).unwrap_err();
    assert_eq!(refused.0, Duration::from_millis(50));
    assert_eq!(refused.secs(), 1);
    // Another team has its own bucket.
    assert!(limiter.take(&"t2", start).is_ok());
    // 20 a second come back: after 100 ms, two.
    let later = start + Duration::from_millis(100);
    assert!(limiter.take(&"t1", later).is_ok());
    assert!(limiter.take(&"t1", later).is_ok());
    assert!(limiter.take(&"t1", later).is_err());
    // Never more than the burst saved up.
    let much_later = start + Duration::from_secs(3600);
    for _ in 0..40 {
        assert!(limiter.take(&"t1", much_later).is_ok());
    }
    assert!(limiter.take(&"t1", much_later).is_err());
}

#[test]
fn a_rate_of_zero_turns_the_limit_off() {
    let now = Instant::now();
    let mut limiter = report_rate_limiter::<&str>(0);
    assert!(limiter.is_off());
    for _ in 0..10_000 {
        assert!(limiter.take(&"t1", now).is_ok());
    }
}

#[test]
fn auth_failures_allow_ten_a_minute_per_address() {
    let start = Instant::now();
    let mut limiter = auth_failure_limiter::<u32>(10);
    for _ in 0..10 {
        assert!(limiter.check(&1, start).is_ok());
        limiter.take(&1, start).unwrap();
    }
    let refused = limiter.check(&1, start).unwrap_err();
    assert_eq!(refused.secs(), 6);
    assert!(limiter.check(&2, start).is_ok());
    assert!(limiter.check(&1, start + Duration::from_secs(6)).is_ok());
}

#[test]
fn a_flood_of_keys_keeps_memory_bounded() {
    let now = Instant::now();
    let mut limiter = report_rate_limiter::<u32>(1);
    for key in 0..(MAX_TRACKED_KEYS as u32 + 10) {
        limiter.take(&key, now).unwrap();
    }
    assert!(limiter.buckets.len() <= MAX_TRACKED_KEYS);
}

#[test]
fn a_clock_going_back_does_not_add_tokens() {
    let start = Instant::now() + Duration::from_secs(10);
    let mut limiter = report_rate_limiter::<&str>(1);
    limiter.take(&"t", start).unwrap();
    limiter.take(&"t", start).unwrap();
    assert!(limiter.take(&"t", start - Duration::from_secs(5)).is_err());
}
