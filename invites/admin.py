from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from audit.admin import history_section
from audit.repository import can_view_audit, events_of_invite
from audit.services import Actor
from interviews.models import Interview
from invites.candidate_lists import BadLine, Candidate, ListError, read_csv, read_pasted
from invites.emails import Kind, Sending, send_emails
from invites.models import Answer, Invite, InviteStatus
from invites.repository import invites_with_videos
from invites.services import (
    EDITABLE,
    answer_reset_takes,
    invite_create,
    invite_extend,
    invite_new_link,
    invite_revoke,
    invite_update,
)
from videos.admin import poster_thumbnail
from videos.models import Video
from videos.services import video_set_tag


class StatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return list(InviteStatus.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet[Invite]) -> QuerySet[Invite]:
        if self.value() not in InviteStatus.values:
            return queryset
        return queryset.filter(pk__in=Invite.objects.in_status(self.value()))  # type: ignore[arg-type]


def copy_button(invite: Invite) -> str:
    return format_html(
        '<button type="button" class="button aurio-copy" data-link="{}" title="{}">Copy link</button>',
        invite.link,
        invite.link,
    )


class VideoInline(admin.TabularInline):
    model = Video
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ("watch", "tag", "status", "duration", "size", "created_at")
    readonly_fields = ("watch", "status", "duration", "size", "created_at")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="video")
    def watch(self, video: Video) -> str:
        return format_html('<a href="{}">▶ Watch</a>', video.get_absolute_url())

    @admin.display(description="duration")
    def duration(self, video: Video) -> str:
        from videos.admin import format_duration

        return format_duration(video.duration_seconds)


# At most this many candidates a batch: the page creates them (and may email them) in one request.
BULK_MAX = 500
CSV_MAX_BYTES = 1024 * 1024
PASTE_EXAMPLE = "ada@example.com\nAda Lovelace <ada@example.com>\nada@example.com, Ada Lovelace"


def when(moment: datetime | None) -> str:
    """A moment in a list column: short, with the full date and time on hover."""
    if moment is None:
        return "—"
    local = timezone.localtime(moment)
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        local.isoformat(),
        f"{local:%Y-%m-%d %H:%M %Z}",
        f"{local:%-d %b %H:%M}",
    )


class InviteAddForm(forms.ModelForm):
    """A new invite: the interview (the default one unless chosen) and a
    deadline (blank: the interview's number of days)."""

    class Meta:
        model = Invite
        fields = ("email", "name", "interview", "expires_at")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        interview = cast(forms.ModelChoiceField, self.fields["interview"])
        interview.required = False
        interview.empty_label = "— the default interview —"
        interview.initial = Interview.objects.default().pk
        interview.help_text = "The questions the candidate answers."
        self.fields["expires_at"].required = False
        self.fields["expires_at"].initial = None
        self.fields[
            "expires_at"
        ].help_text = "Blank: the interview's deadline in days, or the deployment's (AURIO_INVITE_DAYS)."


class InviteChangeForm(forms.ModelForm):
    """The invite's page: blank adjustments mean none."""

    class Meta:
        model = Invite
        fields = ("email", "name", "expires_at", "extra_time_percent", "extra_takes")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in ("extra_time_percent", "extra_takes"):
            if field in self.fields:
                self.fields[field].required = False

    def clean_extra_time_percent(self) -> int:
        return self.cleaned_data.get("extra_time_percent") or 0

    def clean_extra_takes(self) -> int:
        return self.cleaned_data.get("extra_takes") or 0


class BulkInviteForm(forms.Form):
    interview = forms.ModelChoiceField(
        queryset=Interview.objects.all(), help_text="Every candidate of this batch answers its questions."
    )
    candidates = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 10, "cols": 70, "placeholder": PASTE_EXAMPLE}),
        help_text="One candidate a line: email, or Name <email>, or email, name.",
    )
    csv_file = forms.FileField(
        required=False,
        label="or a CSV file",
        help_text="With a header row: email, name, expires_at (as manage.py import_invites reads).",
    )
    send_now = forms.BooleanField(required=False, label="Send the invitation emails now")

    def __init__(self, *args: Any, may_send: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.may_send = may_send
        self.fields["interview"].initial = Interview.objects.default().pk
        self.rows: list[Candidate] = []
        self.bad: list[BadLine] = []

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        pasted, upload = cleaned.get("candidates", "").strip(), cleaned.get("csv_file")
        if cleaned.get("send_now") and not self.may_send:
            self.add_error("send_now", "You may create invites but not email them (no change permission).")
        if bool(pasted) == bool(upload):
            raise forms.ValidationError("Paste a list of candidates or choose a CSV file (one of them).")
        if upload:
            listed = self._read_upload(upload)
        else:
            listed = read_pasted(pasted)
        if len(listed.good) + len(listed.bad) > BULK_MAX:
            raise forms.ValidationError(f"At most {BULK_MAX} candidates at a time; split the list.")
        self.rows, self.bad = listed.good, listed.bad
        return cleaned

    def _read_upload(self, upload: Any) -> Any:
        if upload.size > CSV_MAX_BYTES:
            raise forms.ValidationError({"csv_file": f"The file is over {CSV_MAX_BYTES // 1024} KB."})
        try:
            text = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise forms.ValidationError({"csv_file": "The file is not UTF-8 text."}) from None
        try:
            return read_csv(text)
        except ListError as exc:
            raise forms.ValidationError({"csv_file": f"The file {exc}."}) from None


@admin.register(Invite)
class InviteAdmin(admin.ModelAdmin):
    form = InviteChangeForm
    add_form = InviteAddForm
    list_display = (
        "email",
        "name",
        "interview",
        "status_badge",
        "latest_video",
        "sent",
        "opened",
        "started",
        "completed",
        "expires_at",
        "copy_link",
    )
    list_filter = (
        StatusFilter,
        "interview",
        ("sent_at", admin.EmptyFieldListFilter),
        "videos__tag",
        "created_at",
        "expires_at",
    )
    search_fields = ("email", "name")
    date_hierarchy = "created_at"
    actions = ("send_invitation", "send_reminder", "revoke", "extend_7_days", "new_links")
    readonly_fields = (
        "candidate_link",
        "status_badge",
        "created_by",
        "created_at",
        "sent_at",
        "reminded_at",
        "opened_at",
        "started_at",
        "submitted_at",
        "revoked_at",
    )
    fieldsets = (
        (None, {"fields": ("email", "name", "interview", "expires_at")}),
        (
            "Adjustments",
            {
                "fields": ("extra_time_percent", "extra_takes"),
                "description": "An accommodation for this candidate, on every question; recorded in the "
                "audit trail.",
            },
        ),
        ("Link and progress", {"fields": readonly_fields}),
    )
    inlines = (VideoInline,)

    class Media:
        js = ("js/admin_copy.js",)
        css = {"all": ("css/admin.css",)}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Invite]:
        return invites_with_videos().select_related("created_by", "interview")

    def get_form(
        self, request: HttpRequest, obj: Invite | None = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, change, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj: Invite | None = None) -> Any:
        if obj is None:
            return ((None, {"fields": ("email", "name", "interview", "expires_at")}),)
        fieldsets = super().get_fieldsets(request, obj)
        if can_view_audit(request.user):
            fieldsets = (*fieldsets, ("History", {"fields": ("history",)}))
        return fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Invite | None = None) -> Any:
        fields = (*super().get_readonly_fields(request, obj), "history")
        # An invite keeps its interview: its answers belong to that interview's questions.
        return (*fields, "interview") if obj is not None else fields

    def get_inlines(self, request: HttpRequest, obj: Invite | None) -> Any:
        return self.inlines if obj is not None else ()

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view
        return [
            path("invite-candidates/", view(self.bulk_view), name="invites_invite_bulk"),
            path(
                "<path:object_id>/reset-takes/<uuid:question_id>/",
                view(self.reset_takes_view),
                name="invites_invite_reset_takes",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        bulk = reverse("admin:invites_invite_bulk") if self.has_add_permission(request) else ""
        return super().changelist_view(request, {**(extra_context or {}), "bulk_url": bulk})

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> Any:
        invite = self.get_object(request, object_id)
        if invite is not None:
            extra_context = {**(extra_context or {}), **self._answers_context(request, invite)}
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request: HttpRequest, obj: Invite, form: Any, change: bool) -> None:
        actor = Actor.of_request(request)
        if change:
            # The form has already set the new values on `obj`; the service
            # writes them to the row it reads afresh, recording before and after.
            changes = {field: getattr(obj, field) for field in form.changed_data if field in EDITABLE}
            invite_update(invite=Invite.objects.get(pk=obj.pk), changes=changes, actor=actor)
            return
        created = invite_create(
            email=obj.email,
            name=obj.name,
            expires_at=form.cleaned_data.get("expires_at"),
            interview=form.cleaned_data.get("interview"),
            actor=actor,
        )
        obj.pk = created.pk
        obj.refresh_from_db()

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        """The videos' tags go through the service, so the trail records each change."""
        if formset.model is not Video:
            super().save_formset(request, form, formset, change)
            return
        actor = Actor.of_request(request)
        # What formset.save() would have left for the admin's change message.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for video_form in formset.forms:
            if "tag" in video_form.changed_data:
                video_set_tag(video=video_form.instance, tag=video_form.cleaned_data["tag"], actor=actor)
                formset.changed_objects.append((video_form.instance, ["tag"]))

    # --- columns ---------------------------------------------------------------------

    @admin.display(description="status")
    def status_badge(self, invite: Invite) -> str:
        return format_html(
            '<span class="aurio-status aurio-status-{}">{}</span>', invite.status, invite.status
        )

    @admin.display(description="latest video")
    def latest_video(self, invite: Invite) -> str:
        videos = invite.videos.all()  # prefetched, newest first
        if not videos:
            return "—"
        video = videos[0]
        return format_html(
            '{} <a href="{}">▶ Watch</a> <span class="aurio-tag aurio-tag-{}">{}</span>',
            poster_thumbnail(video),
            video.get_absolute_url(),
            video.tag,
            video.tag,
        )

    @admin.display(description="sent", ordering="sent_at")
    def sent(self, invite: Invite) -> str:
        if invite.reminded_at is None:
            return when(invite.sent_at)
        return format_html("{}<br><small>reminded {}</small>", when(invite.sent_at), when(invite.reminded_at))

    @admin.display(description="opened", ordering="opened_at")
    def opened(self, invite: Invite) -> str:
        return when(invite.opened_at)

    @admin.display(description="started", ordering="started_at")
    def started(self, invite: Invite) -> str:
        return when(invite.started_at)

    @admin.display(description="completed", ordering="submitted_at")
    def completed(self, invite: Invite) -> str:
        return when(invite.submitted_at)

    @admin.display(description="link")
    def copy_link(self, invite: Invite) -> str:
        return copy_button(invite)

    @admin.display(description="events (newest first)")
    def history(self, invite: Invite) -> str:
        return history_section(events_of_invite(invite.pk), invite_ref=invite.pk)

    @admin.display(description="candidate link")
    def candidate_link(self, invite: Invite) -> str:
        return format_html('<code class="aurio-link">{}</code> {}', invite.link, copy_button(invite))

    # --- actions ---------------------------------------------------------------------

    @admin.action(description="Send invitation email", permissions=["change"])
    def send_invitation(self, request: HttpRequest, queryset: QuerySet[Invite]) -> None:
        self._send(request, queryset, "invite")

    @admin.action(description="Send reminder", permissions=["change"])
    def send_reminder(self, request: HttpRequest, queryset: QuerySet[Invite]) -> None:
        self._send(request, queryset, "reminder")

    def _send(self, request: HttpRequest, queryset: QuerySet[Invite], kind: Kind) -> None:
        invites = list(queryset.select_related("interview").order_by("created_at"))
        result = send_emails(invites=invites, kind=kind, actor=Actor.of_request(request))
        self._report_sending(request, result, kind)

    def _report_sending(self, request: HttpRequest, result: Sending, kind: Kind) -> None:
        what = "invitation" if kind == "invite" else "reminder"
        if result.sent:
            self.message_user(request, f"Sent {len(result.sent)} {what} email(s).", messages.SUCCESS)
        if result.skipped:
            self.message_user(
                request,
                f"Skipped {len(result.skipped)}: {result.skipped_summary()}. Only open and opened invites "
                "with a working link are emailed (issue a new link for a dead one).",
                messages.WARNING,
            )
        if result.failed is not None:
            invite, error = result.failed
            sent = ", ".join(i.email for i in result.sent) or "none"
            self.message_user(
                request,
                f"Could not send to {invite.email}: {error}. Sent before it: {sent}. Not sent: "
                f"{invite.email} and {len(result.not_tried)} more. Check the mail settings "
                "(EMAIL_BACKEND, EMAIL_HOST, EMAIL_PORT) and send to those again.",
                messages.ERROR,
            )

    @admin.action(description="Revoke selected invites", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[Invite]) -> None:
        for invite in queryset:
            invite_revoke(invite=invite, actor=Actor.of_request(request))
        self.message_user(request, f"Revoked {len(queryset)} invite(s).", messages.SUCCESS)

    @admin.action(description="Extend deadline by 7 days", permissions=["change"])
    def extend_7_days(self, request: HttpRequest, queryset: QuerySet[Invite]) -> None:
        for invite in queryset:
            invite_extend(invite=invite, days=7, actor=Actor.of_request(request))
        self.message_user(request, f"Extended {len(queryset)} invite(s) by 7 days.", messages.SUCCESS)

    @admin.action(description="Issue new links (the old ones stop working)", permissions=["change"])
    def new_links(self, request: HttpRequest, queryset: QuerySet[Invite]) -> None:
        for invite in queryset:
            invite_new_link(invite=invite, actor=Actor.of_request(request))
        self.message_user(
            request, f"Issued {len(queryset)} new link(s); send them to the candidates.", messages.SUCCESS
        )

    # --- answers per question, and resetting takes ---------------------------------------

    def _answers_context(self, request: HttpRequest, invite: Invite) -> dict[str, Any]:
        answers = {a.question_id: a for a in Answer.objects.filter(invite=invite)}
        videos = {v.pk: v for v in invite.videos.all()}
        may_reset = self.has_change_permission(request, invite) and request.user.has_perm(
            "invites.change_answer"
        )
        rows = []
        number = 0
        for question in invite.interview.questions.all():
            number += 0 if question.practice else 1  # as the candidate saw it: practice is not numbered
            answer = answers.get(question.pk)
            takes = answer.takes if answer else 0
            submitted = answer.submitted_at if answer else None
            rows.append(
                {
                    "number": None if question.practice else number,
                    "question": question,
                    "takes": takes,
                    "allowed": invite.takes_allowed(question),
                    "seconds": invite.answer_seconds(question),
                    "submitted_at": submitted,
                    "video": videos.get(answer.submission_id) if answer and answer.submission_id else None,
                    "reset_url": reverse("admin:invites_invite_reset_takes", args=[invite.pk, question.pk])
                    if may_reset and takes and submitted is None and not question.practice
                    else "",
                }
            )
        return {"answer_rows": rows}

    def reset_takes_view(self, request: HttpRequest, object_id: str, question_id: Any) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        invite = self.get_object(request, object_id)
        if invite is None:
            return self._get_obj_does_not_exist_redirect(  # type: ignore[attr-defined]
                request, self.opts, object_id
            )
        if not (
            self.has_change_permission(request, invite) and request.user.has_perm("invites.change_answer")
        ):
            raise PermissionDenied
        back = HttpResponseRedirect(reverse("admin:invites_invite_change", args=[invite.pk]) + "#answers")
        question = invite.interview.questions.filter(pk=question_id).first()
        if question is None:
            self.message_user(request, "That question is not one of this invite's.", messages.ERROR)
            return back
        answer = Answer.objects.filter(invite=invite, question=question).first()
        if answer is None or answer.takes == 0:
            self.message_user(request, f"No takes used on “{question}”: nothing to reset.", messages.WARNING)
        elif answer.submitted_at is not None:
            self.message_user(
                request, f"“{question}” is answered: its takes can't be given back.", messages.ERROR
            )
        else:
            answer.invite, answer.question = invite, question
            answer_reset_takes(answer=answer, actor=Actor.of_request(request))
            self.message_user(
                request,
                f"The candidate has all {invite.takes_allowed(question)} take(s) of “{question}” again.",
                messages.SUCCESS,
            )
        return back

    # --- inviting a list of candidates ---------------------------------------------------

    def bulk_view(self, request: HttpRequest) -> HttpResponse:
        """Paste a list or upload a CSV; all of a batch is created, or none of it."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        may_send = self.has_change_permission(request)
        form = BulkInviteForm(request.POST or None, request.FILES or None, may_send=may_send)
        bad: list[BadLine] = []
        if request.method == "POST" and form.is_valid():
            interview = form.cleaned_data["interview"]
            bad = form.bad + _already_invited(form.rows, interview)
            if not bad:
                invites = _create_all(form.rows, interview, Actor.of_request(request))
                self.message_user(
                    request, f"Created {len(invites)} invite(s) to “{interview}”.", messages.SUCCESS
                )
                if form.cleaned_data["send_now"]:
                    result = send_emails(invites=invites, kind="invite", actor=Actor.of_request(request))
                    self._report_sending(request, result, "invite")
                changelist = reverse("admin:invites_invite_changelist")
                return HttpResponseRedirect(f"{changelist}?interview__id__exact={interview.pk}")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Invite candidates",
            "form": form,
            "bad": sorted(bad, key=lambda b: b.line),
            "bulk_max": BULK_MAX,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/invites/invite/bulk.html", context)


def _already_invited(rows: list[Candidate], interview: Interview) -> list[BadLine]:
    """Candidates of the batch who already have a usable invite to this interview."""
    emails = {row.email for row in rows}
    taken = set(
        Invite.objects.usable().filter(interview=interview, email__in=emails).values_list("email", flat=True)
    )
    return [
        BadLine(row.line, row.email, "already has an open invite to this interview")
        for row in rows
        if row.email in taken
    ]


def _create_all(rows: list[Candidate], interview: Interview, actor: Actor) -> list[Invite]:
    with transaction.atomic():
        return [
            invite_create(
                email=row.email, name=row.name, expires_at=row.expires_at, interview=interview, actor=actor
            )
            for row in rows
        ]
