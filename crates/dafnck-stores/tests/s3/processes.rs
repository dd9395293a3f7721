//! Runs as processes (placeholder replaced below).
