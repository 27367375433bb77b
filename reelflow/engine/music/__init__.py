"""Music: preset synthesis, fitting tracks, beat and energy analysis, the ducking envelope."""
