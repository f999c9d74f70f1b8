"""Every word of the support page, in Russian and English, and how a page picks one.

One table: templates call ``t("key", name=value)``. Status labels are not
here — they come from :data:`gateway.desk.model.STATUS_LABELS`, the same
table the notifications use (DESIGN §1). The language is the one chosen on the
page (``?lang=``, remembered in the session), else the browser's
Accept-Language, else the desk's default (``HELPDESK_LOCALE``).
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request

from gateway.web import strings

LOCALES = ("ru", "en")

STRINGS: dict[str, tuple[str, str]] = {
    # key: (ru, en)
    "app_name": ("Техподдержка", "Support"),
    "operators": ("операторы", "operators"),
    "queue": ("Очередь", "Queue"),
    "held_mails": ("Задержанные письма", "Held mails"),
    "quarantine": ("Карантин", "Quarantine"),
    "my_tickets": ("Мои заявки", "My tickets"),
    "new_ticket": ("Новая заявка", "New ticket"),
    "sign_out": ("Выйти", "Sign out"),
    "sign_in": ("Войти", "Sign in"),
    "back_home": ("На главную", "Back to the start"),
    "signin_title": ("Вход в техподдержку", "Sign in to support"),
    "signin_explain": (
        "Укажите адрес, с которого вы пишете в поддержку: мы пришлём на него ссылку для входа. "
        "Пароль не нужен.",
        "Enter the address you write to support from: we will mail you a sign-in link. "
        "No password needed.",
    ),
    "your_email": ("Ваш адрес e-mail", "Your e-mail address"),
    "send_link": ("Прислать ссылку", "Send me a link"),
    "signin_panel_hint": (
        "Если вы пришли из панели управления хостингом, вход выполняется автоматически.",
        "Coming from the hosting control panel, you are signed in automatically.",
    ),
    "check_mail": ("Проверьте почту", "Check your mail"),
    "signin_sent": (
        "Если адрес {address} знаком техподдержке, на него отправлена ссылка для входа. "
        "Она действует {minutes} мин. и только один раз.",
        "If support knows {address}, a sign-in link is on its way there. "
        "It works once, for {minutes} minutes.",
    ),
    "signin_not_sent": (
        "Ссылка для входа на {address} сейчас не отправлена: недавно их запрашивали "
        "слишком часто. Воспользуйтесь ссылкой из уже полученного письма или попробуйте позже.",
        "No sign-in link was sent to {address} this time: too many were asked for recently. "
        "Use the link in a mail you already got, or try again later.",
    ),
    "signin_confirm": ("Войти как {address}?", "Sign in as {address}?"),
    "subject": ("Тема", "Subject"),
    "status": ("Статус", "Status"),
    "last_change": ("Изменена", "Last change"),
    "created_at": ("Создана", "Created"),
    "no_tickets": ("У вас пока нет заявок.", "You have no tickets yet."),
    "follow_up_of": (
        "Заявка будет связана с заявкой №{number}.",
        "The ticket will be linked to ticket #{number}.",
    ),
    "subject_field": ("Тема заявки", "Subject"),
    "faq_title": ("Возможно, ответ уже есть:", "Perhaps this answers it:"),
    "more": ("Подробнее", "Read more"),
    "text_field": ("Текст заявки", "Describe the problem"),
    "notify_me": ("Уведомлять меня по e-mail", "Notify me by e-mail"),
    "notify_address": ("Адрес для уведомлений", "Address for notifications"),
    "create": ("Создать", "Create"),
    "already_have_title": ("Похожая заявка уже есть", "You already have a ticket like this"),
    "already_have": (
        "У вас уже есть заявка №{number} об этом",
        "You already have ticket #{number} about this",
    ),
    "add_there_question": (
        "Добавить этот текст в заявку №{number}?",
        "Add this text to ticket #{number}?",
    ),
    "add_to": ("Добавить в №{number}", "Add to #{number}"),
    "create_anyway": ("Всё равно отправить как новую", "Send it as a new ticket anyway"),
    "create_anyway_hint": (
        "Если это другой вопрос, отправьте его как новую заявку: она не будет связана с №{number}.",
        "If this is another problem, send it as a new ticket: it will not be joined to #{number}.",
    ),
    "linked_to": ("связана с", "linked to"),
    "merged_into": ("Объединена с заявкой", "Merged into ticket"),
    "author_customer": ("Вы", "You"),
    "author_operator": ("Техподдержка", "Support"),
    "author_system": ("Система", "System"),
    "author_stranger": ("Посторонний", "Stranger"),
    "op_author_customer": ("Клиент", "Customer"),
    "op_author_operator": ("Оператор", "Operator"),
    "op_author_system": ("Система", "System"),
    "op_author_stranger": ("Посторонний", "Stranger"),
    "nudge_tag": ("напоминание", "nudge"),
    "same_again": ("Тот же текст ещё раз.", "The same text again."),
    "reply": ("Ответить", "Reply"),
    "nudge_hint": (
        "Заявка ждёт ответа оператора. Можно написать ещё раз, но место в очереди от этого "
        "не меняется.",
        "The ticket waits for an operator. You may write again, but your place in the queue "
        "does not change.",
    ),
    "send": ("Отправить", "Send"),
    "close_hint": (
        "Вопрос решён? Закройте заявку.",
        "Solved it? Close the ticket.",
    ),
    "close": ("Закрыть", "Close"),
    "reopen_title": ("Открыть заново", "Reopen"),
    "reopen_hint": (
        "Если проблема вернулась, опишите её — заявка откроется снова. Это можно сделать "
        "в течение {days} дней после закрытия, до {until}.",
        "If the problem is back, describe it and the ticket reopens. This works for {days} "
        "days after closing, until {until}.",
    ),
    "reopen": ("Открыть заново", "Reopen"),
    "locked_explain": (
        "Заявка закрыта администратором и не может быть открыта снова. "
        "Создайте новую заявку — она будет связана с этой.",
        "The ticket was closed administratively and cannot be reopened. "
        "Create a new ticket; it will be linked to this one.",
    ),
    "too_old_explain": (
        "Заявку можно открыть снова только в течение {days} дней после закрытия. "
        "Создайте новую заявку — она будет связана с этой.",
        "A ticket can be reopened only within {days} days of closing. "
        "Create a new ticket; it will be linked to this one.",
    ),
    "merged_explain": (
        "Эта заявка объединена с заявкой №{number}: переписка продолжается там.",
        "This ticket was merged into ticket #{number}: the conversation continues there.",
    ),
    "notifications": ("Уведомления", "Notifications"),
    "pending_address": (
        "Ждём подтверждения адреса {address}: ответьте на письмо, которое мы туда отправили.",
        "Waiting for {address} to confirm: reply to the mail we sent there.",
    ),
    "op_address_bounced": (
        "Письма на {address} возвращаются ({why}): ответы клиенту не доходят, пока адрес "
        "не изменён.",
        "Mail to {address} bounces ({why}): answers do not reach the customer until the "
        "address changes.",
    ),
    "op_not_sent": ("Ответ клиенту не отправлен ({to}): {why}", "Answer not sent ({to}): {why}"),
    "address_bounced": (
        "Письма на этот адрес не доходят; укажите другой.",
        "Mail to this address bounces; give another one.",
    ),
    "save": ("Сохранить", "Save"),
    "op_signin": ("Вход для операторов", "Operator sign-in"),
    "login": ("Адрес или имя", "Address or name"),
    "password": ("Пароль", "Password"),
    "op_signin_hint": (
        "Те же адрес и пароль, что и для отправки почты через сервер поддержки.",
        "The same address and password as for sending mail through the support server.",
    ),
    "queue_order": (
        "Дольше всех ждущие — сверху; напоминания клиентов порядок не меняют.",
        "Longest waiting first; customers' nudges do not change the order.",
    ),
    "all_open": ("Все открытые", "All open"),
    "assignee": ("Исполнитель", "Assignee"),
    "anyone": ("Любой", "Anyone"),
    "nobody": ("Не назначен", "Nobody"),
    "filter": ("Показать", "Filter"),
    "customer": ("Клиент", "Customer"),
    "waiting_since": ("Ждёт с", "Waiting since"),
    "nudges": ("напоминаний: {count}", "nudges: {count}"),
    "queue_empty": ("Открытых заявок нет.", "No open tickets."),
    "held_explain": (
        "Письма посторонних с номером чужой заявки. Принятое письмо добавляется в заявку "
        "как сообщение клиента.",
        "Mails from strangers carrying someone's ticket. An accepted mail joins the ticket as "
        "the customer's message.",
    ),
    "accept": ("Принять", "Accept"),
    "reject": ("Отклонить", "Reject"),
    "nothing_held": ("Задержанных писем нет.", "No held mails."),
    "quarantine_explain": (
        "Письма, которые не удалось разобрать. Байты сохранены; после исправления разбора "
        "их можно обработать снова.",
        "Mails that could not be parsed. The bytes are kept; retry them once the parser is fixed.",
    ),
    "received": ("Получено", "Received"),
    "envelope_from": ("Отправитель", "Envelope from"),
    "size": ("Размер", "Size"),
    "reason": ("Причина", "Reason"),
    "attempts": ("Попыток", "Attempts"),
    "retry": ("Обработать снова", "Retry"),
    "quarantine_empty": ("Карантин пуст.", "The quarantine is empty."),
    "locked": ("заблокирована", "locked"),
    "on": ("вкл.", "on"),
    "off": ("выкл.", "off"),
    "trace": ("Почему здесь", "Why here"),
    "reply_to_customer": ("Ответ клиенту", "Reply to the customer"),
    "send_reply": ("Отправить ответ", "Send reply"),
    "internal_note": ("Внутренняя заметка (клиент не увидит)", "Internal note (not shown)"),
    "add_note": ("Добавить заметку", "Add note"),
    "history": ("История", "History"),
    "actions": ("Действия", "Actions"),
    "take": ("Взять в работу", "Take"),
    "assign_to": ("Назначить", "Assign to"),
    "assign": ("Назначить", "Assign"),
    "set_status": ("Статус", "Status"),
    "set": ("Установить", "Set"),
    "admin_close_reason": ("Причина административного закрытия", "Reason for admin closure"),
    "admin_close": ("Закрыть административно", "Close administratively"),
    "merge_into": ("Объединить с заявкой №", "Merge into ticket #"),
    "merge": ("Объединить", "Merge"),
    # errors
    "not_found_title": ("Страница не найдена", "Not found"),
    "not_found": (
        "Такой страницы нет, или она вам недоступна.",
        "There is no such page, or it is not yours to see.",
    ),
    "forbidden_title": ("Форма устарела", "The form has expired"),
    "csrf_failed": (
        "Форма была открыта в другом сеансе или устарела. Откройте страницу заново и "
        "повторите действие.",
        "The form came from another session or has expired. Open the page again and repeat.",
    ),
    "error_title": ("Что-то пошло не так", "Something went wrong"),
    "error_text": (
        "Мы не смогли выполнить запрос. Ничего не потеряно; попробуйте ещё раз через минуту.",
        "We could not do that. Nothing was lost; please try again in a minute.",
    ),
    "unavailable": (
        "Хранилище временно недоступно. Ничего не сохранено; повторите через минуту.",
        "The store is unavailable for a moment. Nothing was saved; try again in a minute.",
    ),
    "bad_link_title": ("Ссылка не работает", "This link does not work"),
    "link_expired": (
        "Срок действия ссылки истёк. Запросите новую.",
        "The link has expired. Ask for a new one.",
    ),
    "link_used": (
        "Ссылка уже была использована. Запросите новую.",
        "The link was used already. Ask for a new one.",
    ),
    "link_bad": ("Ссылка повреждена. Запросите новую.", "The link is damaged. Ask for a new one."),
    "bad_request": ("Неверный запрос", "Bad request"),
    # flashes
    "ticket_created": ("Заявка №{number} создана.", "Ticket #{number} is created."),
    "added_to": ("Текст добавлен в заявку №{number}.", "The text was added to ticket #{number}."),
    "reply_sent": ("Сообщение добавлено.", "Your message is added."),
    "ticket_closed": ("Заявка закрыта.", "The ticket is closed."),
    "ticket_reopened": ("Заявка открыта снова.", "The ticket is open again."),
    "follow_up_created": (
        "Создана заявка №{number}, связанная с №{old}.",
        "Ticket #{number} is created, linked to #{old}.",
    ),
    "settings_saved": ("Настройки сохранены.", "Settings saved."),
    "confirm_sent": (
        "На {address} отправлено письмо: ответьте на него, чтобы подтвердить адрес.",
        "We mailed {address}: reply to that mail to confirm the address.",
    ),
    "invalid_address": ("Это не похоже на адрес e-mail.", "That does not look like an address."),
    "subject_required": ("Укажите тему заявки.", "Please give a subject."),
    "text_required": ("Опишите проблему.", "Please describe the problem."),
    "op_bad_login": ("Неверный адрес или пароль.", "Wrong address or password."),
    "op_throttled": (
        "Слишком много неудачных попыток. Попробуйте через {minutes} мин.",
        "Too many failed attempts. Try again in {minutes} min.",
    ),
    "done": ("Готово.", "Done."),
    "signed_out": ("Вы вышли.", "You are signed out."),
    "signin_needed": ("Войдите, чтобы продолжить.", "Please sign in to continue."),
}

STRINGS.update(strings.QUEUE)
STRINGS.update(strings.TIMELINE)
STRINGS.update(strings.TICKET)
STRINGS.update(strings.FILES)
STRINGS.update(strings.QUARANTINE)


def pick_locale(request: Request, default: str) -> str:
    """``?lang=`` (remembered), the session's choice, Accept-Language, the default."""
    asked = request.query_params.get("lang")
    if asked in LOCALES:
        request.session["lang"] = asked
        return asked
    kept = request.session.get("lang")
    if kept in LOCALES:
        return str(kept)
    for part in request.headers.get("accept-language", "").split(","):
        lang = part.split(";")[0].strip().lower()[:2]
        if lang in LOCALES:
            return lang
    return default if default in LOCALES else "ru"


def translator(locale: str) -> Callable[..., str]:
    """``t(key, **values)`` for one locale; an unknown key shows itself (and a test fails)."""
    index = LOCALES.index(locale)

    def t(key: str, **values: object) -> str:
        pair = STRINGS.get(key)
        if pair is None:
            return key
        return pair[index].format(**values) if values else pair[index]

    return t
