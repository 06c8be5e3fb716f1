"""Triggers: webhooks, the Run button and schedules, admitted durably onto each flow's stream."""
