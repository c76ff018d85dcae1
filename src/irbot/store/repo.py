"""The repository: the only place that writes SQL, one module per aggregate, gathered here so
that callers write ``repo.<function>``. Keyword-only ``session``; callers commit."""

from __future__ import annotations

from irbot.store.incidents import (  # noqa: F401
    INCIDENT_COUNTER, next_incident_number, add_incident, incident_by_source, get_incident,
    incident_by_number, incident_by_channel, incident_id_by_channel, incidents_in_setup_owing_nothing,
    incidents_to_reconcile, claim_postmortem, incidents_to_backfill, open_incidents, open_by_severity,
    update_incident, roles_of, set_role_holder, transition_status, roles_held_by,
)
from irbot.store.timeline import (  # noqa: F401
    add_event, evidence_of, evidence, head_hash, timeline_rows, latest_timeline_rows, events_of,
    redact_message, has_event,
)
from irbot.store.reminders import (  # noqa: F401
    set_reminder, cancel_reminders, claim_reminder, finish_reminder, release_firing_reminders,
    due_reminders, pending_reminders,
)
from irbot.store.people import (  # noqa: F401
    remember_person, people_named, roster_entry, channels_with_member, rosters_loaded, replace_roster,
    remove_member,
)
from irbot.store.processes import (  # noqa: F401
    beat, heartbeats_since, claim_delivery, release_delivery, forget_deliveries,
)
from irbot.store.actions import (  # noqa: F401
    add_action, actions_of, action_by_number,
)
from irbot.store.clocks import (  # noqa: F401
    add_clock, clocks_of, clock_of, mark_clock_notified,
)
from irbot.store.alerts import (  # noqa: F401
    alert_group, add_alert_group, ALERT_GATE_LOCK, lock_alert_gate, known_fingerprints,
    remember_fingerprints, alert_seen_count, forget_fingerprints, count_open_from_source,
    count_declared_from_source, count_from_source, open_incident_from_source,
)
from irbot.store.outbox import (  # noqa: F401
    add_outbox, outbox_subject, release_outbox, claim_outbox, outbox_step_done, renew_outbox,
    finish_outbox, outbox_due, outbox_counts, forget_delivered_outbox,
)
from irbot.store.status_page import (  # noqa: F401
    bump_status_version, status_version, publication_of, save_publication, add_status_entry, mark_publication,
    published_rows, published_by_number, status_entries, status_entry_counts,
)
from irbot.store.pages import (  # noqa: F401
    page_of, pages_of, open_page, close_pages, acknowledge_page, page_sent, page_refused,
)
from irbot.store.home import (  # noqa: F401
    roles_by_incident, commanders, open_actions_owned_by, home_viewers_of, home_published, open_incident_rows,
    claim_home_slot,
)
from irbot.store.followups import (  # noqa: F401
    record_issue, issue_of_item, issues_of, issue_by_key, get_action, open_items, claim_digest, digest_sent,
    postmortem_link,
)
