"""RQ side of reewatch: thin job entry points, the poll pipeline, delivery, escalation, scheduling."""
