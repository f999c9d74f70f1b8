"""The text the CLI prints, derived from the JSON shapes of ``views`` (DESIGN §6).

One function per listing or report: ``--json`` prints the shape itself, and
without it the shape goes through here, so the two never say different things.
"""

from __future__ import annotations

from typing import Any


def tickets(rows: list[dict]) -> str:
    if not rows:
        return "no tickets"
    return "\n".join(
        f"#{t['number']:<6} {t['status']:<18} {t['customer']:<30} {t['subject']}" for t in rows
    )


def ticket(t: dict[str, Any]) -> str:
    """The human form of ``ticket show``: header, messages with their traces, history."""
    lines = [
        f"Ticket #{t['number']}: {t['subject']}",
        f"  status:   {t['status']} ({t['status_label']})" + ("  [locked]" if t["locked"] else ""),
        f"  customer: {t['customer']}",
        f"  notify:   {'on, to ' + (t['notify_address'] or '?') if t['notify'] else 'off'}",
        f"  created:  {t['created_at']}   awaiting since: {t['awaiting_since'] or '-'}"
        f"   closed: {t['closed_at'] or '-'}",
    ]
    if t.get("notify_bounced"):
        lines.append(
            f"  WARNING:  mail to {t['notify_address']} bounces ({t['notify_bounced']}); nothing "
            f"reaches the customer until the address changes: "
            f"helpdesk ticket notify {t['number']} on --to ADDRESS"
        )
    for u in t.get("undelivered", []):
        lines.append(f"  NOT SENT: {u['kind']} to {u['to']}: {u['why'] or u['state']}")
    if t["follow_up_of"]:
        lines.append(f"  linked to #{t['follow_up_of']} (follow-up or a repeat of it)")
    if t["duplicate_of"]:
        lines.append(f"  merged into #{t['duplicate_of']}: its messages are there")
    for m in t.get("messages", []):
        flags = f" [{', '.join(m['flags'])}]" if m["flags"] else ""
        if "duplicate" in m["flags"]:  # collapsed: the same content is shown above
            lines += ["", f"--- message {m['id']} from {m['author']}{flags}: collapsed"]
            lines += [f"    why: {step}" for step in m["trace"][-1:]]
            continue
        lines += ["", f"--- message {m['id']} from {m['author']} {m['author_address']}{flags}"]
        lines += [f"    why: {step}" for step in m["trace"]]
        lines += ["    " + line for line in (m["text"] or "").strip().splitlines()[:40]]
        for a in m["attachments"]:
            lines.append(
                f"    attachment: {a['filename']} ({a['content_type']}, {a['size']} bytes)"
            )
        if m["defects"]:
            lines.append(f"    defects: {'; '.join(m['defects'])}")
    if t.get("events"):
        lines += ["", "History:"]
        lines += [
            f"  {e['at']}  {e['from'] or '(new)'} → {e['to']}  by {e['actor']}: {e['reason']}"
            for e in t["events"]
        ]
    return "\n".join(lines)


def held(rows: list[dict]) -> str:
    return (
        "\n".join(f"{r['id']:<6} #{r['ticket']:<6} {r['from']:<32} {r['subject']}" for r in rows)
        or "no mail is held"
    )


def customers(rows: list[dict]) -> str:
    return (
        "\n".join(
            f"{r['id']:<6} {r['email']:<32} "
            f"{'verified' if r['verified'] else 'guest':<9} {r['name']}"
            for r in rows
        )
        or "no customers"
    )


def operators(rows: list[dict]) -> str:
    return "\n".join(f"{r['id']:<4} {r['name']:<20} {r['email']}" for r in rows) or "no operators"


def quarantine(rows: list[dict]) -> str:
    return (
        "\n".join(
            f"{r['id']:<6} {r['state']:<11} {r['received_at']}  "
            f"{r['mail_from'] or '<>'}: {r['reason']}"
            for r in rows
        )
        or "quarantine is empty"
    )


def outbox(rows: list[dict]) -> str:
    return (
        "\n".join(
            f"{r['id']:<6} {r['state']:<10} #{r['ticket'] or '-':<6} {r['kind']:<16} "
            f"{r['to']}" + (f"  ({r['last_error']})" if r["last_error"] else "")
            for r in rows
        )
        or "the outbox is empty"
    )


def notify_settings(r: dict) -> str:
    return (
        f"ticket #{r['number']}: notifications {'on' if r['notify'] else 'off'}"
        f" to {r['notify_address'] or '(no address)'}"
        + (f"; bouncing: {r['notify_bounced']}" if r["notify_bounced"] else "")
    )


def sweep(r: dict) -> str:
    head = f"sweep as of {r['as_of']}" + (" (dry run: nothing was changed)" if r["dry_run"] else "")
    lines = [head]
    for key, label in (
        ("auto_closed", "closed without reply"),
        ("reminded", "reminded"),
        ("reopen_lapsed", "reopen window lapsed"),
        ("escalated", "escalated to operators"),
    ):
        numbers = r[key]
        shown = ", ".join(f"#{n}" for n in numbers[:20]) + (" …" if len(numbers) > 20 else "")
        lines.append(f"  {label}: {len(numbers)}" + (f" ({shown})" if numbers else ""))
    merged = ", ".join(f"#{m['ticket']} → #{m['into']}" for m in r["merged"][:20])
    lines.append(f"  duplicates merged: {len(r['merged'])}" + (f" ({merged})" if merged else ""))
    if "notifications_due" in r:
        lines.append(f"  notifications due to send: {r['notifications_due']}")
    else:
        lines.append(f"  notifications tried: {r['notifications_tried']}")
    return "\n".join(lines)


def import_report(r: dict) -> str:
    head = "import of " + ", ".join(r["paths"])
    if r["dry_run"]:
        head += " (dry run: nothing was written)"
    rate = f"{r['messages_per_second']:,.0f} messages/s"
    lines = [
        head,
        f"  messages read:            {r['messages_read']:,} in {r['seconds']:.1f} s ({rate})",
        f"  dated from:               {r['first_date'] or '-'} to {r['last_date'] or '-'}",
        f"  already imported:         {r['already_imported']:,}",
        f"  copies of one message:    {r['copies_of_one_message']:,}",
        f"  tickets created:          {r['tickets_created']:,}"
        f" ({len(r['open_tickets']):,} still open)",
        f"  messages threaded:        {r['messages_threaded']:,}",
        f"  operators' messages:      {r['operator_messages']:,}",
        f"  held from strangers:      {r['held_from_strangers']:,}",
        f"  duplicates collapsed:     {r['duplicates_collapsed']:,}",
    ]
    rules = r["rules_applied"]
    lines.append(
        f"  30-day rules applied:     {rules['auto_closed']:,} closed without reply, "
        f"{rules['reopen_lapsed']:,} reopen windows lapsed"
    )
    for d in r["duplicates"][:20]:
        kind = "same request as" if d["kind"] == "duplicate" else "repeats a message in"
        lines.append(f"    {d['message_id'] or d['where']} {kind} #{d['ticket']}")
    for key, label in (
        ("quarantined", "quarantined"),
        ("refused", "refused"),
        ("ignored", "kept without a ticket"),
    ):
        lines.append(f"  {label + ':':<26}{len(r[key]):,}")
        lines.extend(f"    {m['where']}: {m['reason']}" for m in r[key][:20])
    if "notifications_queued" in r:
        lines.append(
            f"  told of their open ticket: {r['notifications_queued']:,} customers "
            "(queued: `helpdesk serve` sends them)"
        )
    shown = sum(min(len(r[k]), 20) for k in ("duplicates", "quarantined", "refused", "ignored"))
    listed = sum(len(r[k]) for k in ("duplicates", "quarantined", "refused", "ignored"))
    if listed > shown:
        lines.append(f"  (first 20 of each list shown; --json lists all {listed:,})")
    return "\n".join(lines)
