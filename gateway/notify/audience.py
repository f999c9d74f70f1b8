"""Who is told what: every kind of mail, its audience and what a reply to it does (issue 13).

One table, read by ``notify.enqueue`` (who gets a row), ``notify.build`` (which
signed reply address the mail carries) and printed in the README ("Who is told
what"), so the rule and its documentation cannot drift apart.

Two rules hold for every row:

* **The customer is never mailed about a change they caused.** Their own
  reply moves the ticket back to the operators without a ``status`` mail; their
  own ``#close`` gets one confirmation that says how to reopen and until when.
* **Mail for operators only carries an operator-bound reply address** (signed
  together with that operator's address, ``mail.reply_address``) and one line
  saying what a reply does: the customer's ticket address is never on it, so
  nothing an operator writes among the team reaches the customer by accident.
"""

from __future__ import annotations

from dataclasses import dataclass

CUSTOMER = "customer"
ACTOR = "the operator who acted"  # the one whose command failed, whose digest reply came
OPERATORS = "all operators"
TEAM = "team address"
SENDER = "the sender"  # a stranger whose mail was held; whoever asked for a sign-in link


@dataclass(frozen=True)
class Rule:
    """One kind of mail: when it goes, to whom, and what a reply to it does."""

    kind: str
    when: str
    to: tuple[str, ...]
    reply: str  # the signed reply address kind (mail.reply_address), "" = none of ours
    reply_does: str


TABLE: tuple[Rule, ...] = (
    Rule("created", "a new ticket by mail", (CUSTOMER,), "t", "adds to the ticket"),
    Rule(
        "status",
        "an operator or a timer changed the status; the customer's own #close "
        "(a confirmation: how to reopen, until when); never for the customer's own reply",
        (CUSTOMER,),
        "t",
        "adds to the ticket (reopens it within the window when closed)",
    ),
    Rule("operator_reply", "an operator answered", (CUSTOMER,), "t", "adds to the ticket"),
    Rule(
        "reopened",
        "the customer's mail reopened a closed ticket",
        (CUSTOMER,),
        "t",
        "adds to the ticket",
    ),
    Rule(
        "follow_up",
        "the reopen window had passed: a linked new ticket",
        (CUSTOMER,),
        "t",
        "adds to the new ticket",
    ),
    Rule(
        "locked_follow_up",
        "a reply to an administratively closed ticket",
        (CUSTOMER,),
        "t",
        "adds to the new ticket",
    ),
    Rule(
        "duplicate",
        "a new request an open ticket already holds (once; repeats: nobody)",
        (CUSTOMER,),
        "t",
        "adds to the ticket",
    ),
    Rule("reminder", "7 days before auto-close", (CUSTOMER,), "t", "adds to the ticket"),
    Rule(
        "auto_closed",
        "30 days without the customer's reply",
        (CUSTOMER,),
        "t",
        "reopens the ticket within the window",
    ),
    Rule("imported", "helpdesk import --notify-open", (CUSTOMER,), "t", "adds to the ticket"),
    Rule(
        "confirm_address",
        "#notify-to: proof asked of the customer's current address",
        (CUSTOMER,),
        "c",
        "confirms the change",
    ),
    Rule(
        "operator_message",
        "the customer wrote (new, message, reopened, follow-up)",
        (OPERATORS, TEAM),
        "o",
        "goes to the customer as that operator's answer; commands apply",
    ),
    Rule(
        "command_error",
        "an operator's mailed command was wrong: nothing applied",
        (ACTOR,),
        "o",
        "goes to the customer as that operator's answer; commands apply",
    ),
    Rule(
        "stranger_held",
        "someone else's mail named the ticket: held",
        (OPERATORS, TEAM),
        "n",
        "an internal note on the ticket (commands apply); never to the customer",
    ),
    Rule(
        "possible_repeat",
        "a new ticket much like a recently closed one",
        (OPERATORS, TEAM),
        "n",
        "an internal note on the ticket (commands apply); never to the customer",
    ),
    Rule(
        "escalation",
        "tickets waiting for an operator too long (the digest)",
        (OPERATORS, TEAM),
        "d",
        "answered with how to act on a ticket; never a ticket",
    ),
    Rule(
        "digest_answer",
        "an operator replied to the digest",
        (ACTOR,),
        "d",
        "the same answer again; never a ticket",
    ),
    Rule(
        "held_notice",
        "their mail was held (says nothing of the ticket)",
        (SENDER,),
        "",
        "a new request to support",
    ),
    Rule("signin_link", "asked for on the support page", (SENDER,), "", "a new request"),
)

RULES: dict[str, Rule] = {r.kind: r for r in TABLE}
OPERATOR_ONLY = frozenset(r.kind for r in TABLE if CUSTOMER not in r.to and SENDER not in r.to)


def reply_kind(kind: str) -> str:
    """The signed address kind a mail of ``kind`` carries as Reply-To ("" = the plain one)."""
    rule = RULES.get(kind)
    return rule.reply if rule is not None else "t"


def for_customer(kind: str, *, by_customer: bool, new_status: str | None) -> bool:
    """Whether the customer hears of a change: never of one their own mail made, except
    their own ``#close``, which is confirmed once with how to reopen."""
    if not by_customer or kind != "status":
        return True
    return new_status in ("closed", "closed_no_reply")


def markdown() -> str:
    """The table as the README prints it (a test keeps the two equal)."""
    columns = (CUSTOMER, ACTOR, OPERATORS, TEAM, SENDER)
    head = "| mail | when | " + " | ".join(columns) + " | a reply |"
    lines = [head, "|" + " --- |" * (len(columns) + 3)]
    for r in TABLE:
        marks = " | ".join("yes" if c in r.to else "" for c in columns)
        address = f"`{r.reply}` " if r.reply else ""
        lines.append(f"| `{r.kind}` | {r.when} | {marks} | {address}{r.reply_does} |")
    return "\n".join(lines) + "\n"
