"""Alert rules from `loupe.yaml` (`alerts:`), evaluated on a schedule, sent to webhooks, Slack or e-mail."""
