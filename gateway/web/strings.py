"""The support page's words added by issue 15 (queue, search, files, timeline), ru and en.

Kept apart from ``i18n`` only so each module stays readable; ``i18n.STRINGS``
merges them into the one table templates read.
"""

from __future__ import annotations

QUEUE: dict[str, tuple[str, str]] = {
    "view_needs_us": ("Ждут нас", "Needs us"),
    "view_closed": ("Закрытые", "Closed tickets"),
    "view_all": ("Все", "All"),
    "view_mine": ("Мои", "Mine"),
    "view_unassigned": ("Без исполнителя", "Unassigned"),
    "views": ("Представления очереди", "Queue views"),
    "sort_by": ("Порядок", "Sort by"),
    "sort_waiting": ("Дольше всех ждут", "Longest waiting"),
    "sort_updated": ("Недавно изменённые", "Recently updated"),
    "sort_number": ("Новые заявки", "Newest number"),
    "customer_filter": ("Клиент (адрес или номер)", "Customer (address or number)"),
    "next_page": ("Следующая страница", "Next page"),
    "first_page": ("В начало", "First page"),
    "updated": ("Изменена", "Updated"),
    "count_more": ("{count}+", "{count}+"),
    "search": ("Поиск", "Search"),
    "search_label": ("Искать в заявках", "Search tickets"),
    "search_placeholder": (
        "слова из темы или переписки, №, адрес клиента",
        "words of a subject or a message, #number, customer address",
    ),
    "search_placeholder_mine": ("слова из ваших заявок или №", "words of your tickets, or #number"),
    "search_results": ("Найдено: {count}", "Found: {count}"),
    "search_nothing": ("Ничего не найдено.", "Nothing found."),
    "search_exact": ("точное совпадение", "exact match"),
    "skip_to_content": ("Перейти к содержимому", "Skip to content"),
}

TIMELINE: dict[str, tuple[str, str]] = {
    "tl_closed_by_you": ("Вы закрыли заявку.", "You closed the ticket."),
    "tl_closed_by_customer": ("Клиент закрыл заявку.", "The customer closed the ticket."),
    "tl_closed_by_operator": ("Заявку закрыл оператор {who}.", "Operator {who} closed the ticket."),
    "tl_admin_closed": (
        "Заявка закрыта администратором.",
        "The ticket was closed administratively.",
    ),
    "tl_auto_closed": (
        "Заявка закрыта автоматически: {days} дней без ответа.",
        "Closed automatically after {days} days without a reply.",
    ),
    "tl_reopened": ("Заявка открыта снова.", "The ticket was reopened."),
    "tl_merged_into": ("Объединена с заявкой №{number}.", "Merged into #{number}."),
    "tl_merged_from": ("Сюда перенесена заявка №{number}.", "Ticket #{number} was merged in here."),
    "tl_taken": ("{who} взял(а) заявку в работу.", "{who} took the ticket."),
}

TICKET: dict[str, tuple[str, str]] = {
    "then_status": ("После отправки", "After sending"),
    "then_close": ("Закрыть заявку", "Close the ticket"),
    "locked_only_notes": (
        "Заявка закрыта администратором: можно только добавлять внутренние заметки.",
        "Closed administratively: only internal notes can be added.",
    ),
    "closed_only_notes": (
        "Заявка закрыта: она откроется снова, когда клиент напишет. Можно добавить заметку.",
        "The ticket is closed: it reopens when the customer writes. You can add a note.",
    ),
    "confirm_close": ("Да, закрыть заявку", "Yes, close the ticket"),
    "confirm_merge": ("Да, объединить (это не отменить)", "Yes, merge (cannot be undone)"),
    "confirm_admin_close": (
        "Да, закрыть навсегда: клиент не сможет её открыть",
        "Yes, close for good: the customer cannot reopen it",
    ),
    "confirm_needed": (
        "Подтвердите действие галочкой рядом с кнопкой.",
        "Tick the box next to the button to confirm.",
    ),
    "verified": ("подтверждённый клиент", "verified customer"),
    "guest": ("гость (адрес не подтверждён)", "guest (address not verified)"),
    "other_tickets": ("Другие заявки клиента", "The customer's other tickets"),
}

FILES: dict[str, tuple[str, str]] = {
    "attach_files": ("Файлы (необязательно)", "Files (optional)"),
    "files_hint": (
        "До {size} вместе с текстом, как для письма.",
        "Up to {size} together with the text, as for a mail.",
    ),
    "files_too_large_title": ("Слишком большие файлы", "The files are too large"),
    "files_too_large": (
        "Файлы вместе с текстом больше допустимого размера письма. Ничего не отправлено; "
        "уменьшите файлы или отправьте их частями.",
        "The files and the text are larger than a mail may be. Nothing was sent; "
        "make them smaller or send them in parts.",
    ),
}

QUARANTINE: dict[str, tuple[str, str]] = {
    "retry_stored": ("Письмо {id} обработано и сохранено.", "Mail {id} is processed and stored."),
    "retry_failed": (
        "Письмо {id} снова не удалось разобрать, оно остаётся в карантине: {reason}",
        "Mail {id} still cannot be parsed and stays in the quarantine: {reason}",
    ),
}
