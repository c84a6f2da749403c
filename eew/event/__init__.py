"""From picks to events and alerts: association, location, magnitude, forecasts, alert lifecycle."""
