"""The interview builder: an interview's text, branding and deadline, its
questions inline in order; duplicate one to change it for new candidates."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from audit import services as audit
from audit.services import Action, Actor
from interviews.models import MAX_QUESTIONS, Interview, Question
from interviews.services import interview_duplicate

CONTENT_FIELDS = ("title", "intro", "closing", "accent_colour", "logo", "deadline_days")
# Where a question whose position was left blank goes before the order is tidied: last.
AFTER_THE_OTHERS = 1_000_000


class QuestionForm(forms.ModelForm):
    # Blank for a new question: after the others (the order is tidied on save).
    position = forms.IntegerField(
        min_value=0, required=False, widget=forms.NumberInput(attrs={"class": "vIntegerField aurio-position"})
    )

    class Meta:
        model = Question
        fields = ("position", "text", "video", "answer_seconds", "thinking_seconds", "retakes", "practice")
        widgets = {"text": forms.Textarea(attrs={"rows": 2, "cols": 36})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance._state.adding:
            self.initial.pop("position", None)

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if cleaned.get("position") is None and "position" not in self.errors:
            cleaned["position"] = AFTER_THE_OTHERS
        answers = cleaned.get("DELETE") and not self.instance._state.adding and self.instance.answers.count()
        if answers:
            # Kept (not deleted), so this error stops the save and shows on the question's row;
            # the answers' PROTECT would otherwise make the delete fail.
            cleaned["DELETE"] = False
            self.add_error(
                None,
                f"This question can't be deleted: {answers} candidate(s) have started or answered it, and "
                "their answers belong to it. Untick “Delete”; to ask different questions, duplicate the "
                "interview and change the copy.",
            )
        return cleaned


class QuestionFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        kept = [
            f for f in self.forms if getattr(f, "cleaned_data", None) and not f.cleaned_data.get("DELETE")
        ]
        if not any(not f.cleaned_data.get("practice") for f in kept):
            raise ValidationError(
                "An interview needs at least one question that is not a practice question: "
                "practice answers are never sent, so candidates would have nothing to answer."
            )
        if len(kept) > MAX_QUESTIONS:
            raise ValidationError(f"An interview has at most {MAX_QUESTIONS} questions.")
        if self.instance.is_default and len(kept) != 1:
            raise ValidationError(
                "The default interview has exactly one question (invites made without an interview "
                "answer it); create an interview of your own for more."
            )


class QuestionInline(admin.TabularInline):
    model = Question
    form = QuestionForm
    formset = QuestionFormSet
    extra = 1
    fields = (
        "position",
        "text",
        "video",
        "answer_seconds",
        "thinking_seconds",
        "retakes",
        "practice",
        "answers",
    )
    readonly_fields = ("answers",)
    ordering = ("position", "id")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Question]:
        return super().get_queryset(request).annotate(answer_count=Count("answers"))

    # The default interview keeps its one question: invites made without an
    # interview (the seed's API) answer it and are then submitted.
    def get_extra(self, request: HttpRequest, obj: Interview | None = None, **kwargs: Any) -> int:
        return 0 if obj is not None and obj.is_default else self.extra

    def get_max_num(self, request: HttpRequest, obj: Interview | None = None, **kwargs: Any) -> int | None:
        return 1 if obj is not None and obj.is_default else None

    def has_delete_permission(self, request: HttpRequest, obj: Interview | None = None) -> bool:
        if obj is not None and obj.is_default:
            return False
        return super().has_delete_permission(request, obj)

    @admin.display(description="answers")
    def answers(self, question: Question) -> int:
        """Candidates who started it: such a question can't be deleted."""
        return getattr(question, "answer_count", 0)


@admin.register(Interview)
class InterviewAdmin(admin.ModelAdmin):
    list_display = ("title", "question_count", "invite_count", "created_at", "default")
    search_fields = ("title", "intro")
    actions = ("duplicate",)
    readonly_fields = ("created_at", "created_by", "is_default")
    fieldsets = (
        ("Content", {"fields": ("title", "intro", "closing")}),
        ("Branding", {"fields": ("accent_colour", "logo")}),
        ("Deadline", {"fields": ("deadline_days",)}),
        ("About", {"fields": ("is_default", "created_at", "created_by"), "classes": ("collapse",)}),
    )
    inlines = (QuestionInline,)

    class Media:
        js = ("js/admin_questions.js",)
        css = {"all": ("css/admin.css",)}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Interview]:
        return (
            super()
            .get_queryset(request)
            .select_related("created_by")
            .annotate(
                questions_total=Count("questions", distinct=True),
                invites_total=Count("invites", distinct=True),
            )
        )

    def get_fieldsets(self, request: HttpRequest, obj: Interview | None = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        return fieldsets if obj is not None else fieldsets[:-1]

    def get_urls(self) -> list[Any]:
        duplicate = self.admin_site.admin_view(self.duplicate_view)
        return [
            path("<path:object_id>/duplicate/", duplicate, name="interviews_interview_duplicate"),
            *super().get_urls(),
        ]

    # --- columns ---------------------------------------------------------------

    @admin.display(description="questions", ordering="questions_total")
    def question_count(self, interview: Interview) -> int:
        return getattr(interview, "questions_total", 0)

    @admin.display(description="invites", ordering="invites_total")
    def invite_count(self, interview: Interview) -> int:
        return getattr(interview, "invites_total", 0)

    @admin.display(description="default", boolean=True, ordering="is_default")
    def default(self, interview: Interview) -> bool:
        return interview.is_default

    # --- saving, with the audit trail ------------------------------------------

    def save_model(self, request: HttpRequest, obj: Interview, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user  # type: ignore[assignment]
        super().save_model(request, obj, form, change)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        super().save_formset(request, form, formset, change)
        if formset.model is Question:
            _tidy_positions(form.instance, formset)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        interview: Interview = form.instance
        actor = Actor.of_request(request)
        if not change:
            audit.record(
                actor=actor,
                action=Action.CREATED,
                target=interview,
                detail={"questions": interview.questions.count()},
            )
            return
        detail: dict[str, Any] = {
            f: {"from": _plain(form.initial.get(f)), "to": _plain(form.cleaned_data.get(f))}
            for f in form.changed_data
            if f in CONTENT_FIELDS
        }
        for formset in formsets:
            if formset.model is not Question:
                continue
            for key, objects in (
                ("questions_added", formset.new_objects),
                ("questions_changed", formset.changed_objects),
                ("questions_deleted", formset.deleted_objects),
            ):
                if objects:
                    detail[key] = len(objects)
        if detail:
            audit.record(actor=actor, action=Action.EDITED, target=interview, detail=detail)

    # --- the default interview stays ------------------------------------------

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> Any:
        interview = self.get_object(request, object_id)
        extra_context = {
            **(extra_context or {}),
            "show_delete": not (interview and interview.is_default),
            "duplicate_url": reverse("admin:interviews_interview_duplicate", args=[object_id])
            if interview is not None and self.has_add_permission(request)
            else "",
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        """Django refuses interviews with invites (protected); the default
        interview is refused the same way, with the reason."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        for interview in objs:
            if interview.is_default:
                protected = [
                    f"“{interview}” is the default interview: invites made without choosing an "
                    "interview belong to it, so it can't be deleted (its text can be edited).",
                    *protected,
                ]
        return deleted, counts, perms_needed, protected

    # --- duplicating --------------------------------------------------------------

    @admin.action(description="Duplicate selected interviews", permissions=["add"])
    def duplicate(self, request: HttpRequest, queryset: QuerySet[Interview]) -> None:
        copies = [interview_duplicate(interview=i, actor=Actor.of_request(request)) for i in queryset]
        self.message_user(
            request,
            f"Made {len(copies)} cop{'y' if len(copies) == 1 else 'ies'}: "
            + ", ".join(f"“{c.title}”" for c in copies)
            + ". They have no invites yet.",
            messages.SUCCESS,
        )

    def duplicate_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """GET: what a copy is, and a button; POST: make it and open it."""
        if request.method not in ("GET", "POST"):
            return HttpResponseNotAllowed(["GET", "POST"])
        if not self.has_add_permission(request):
            raise PermissionDenied
        interview = self.get_object(request, object_id)
        if interview is None:
            return self._get_obj_does_not_exist_redirect(  # type: ignore[attr-defined]
                request, self.opts, object_id
            )
        if not self.has_view_or_change_permission(request, interview):
            raise PermissionDenied
        if request.method == "GET":
            context = {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": "Duplicate this interview",
                "interview": interview,
                "questions": interview.questions.count(),
            }
            return TemplateResponse(request, "admin/interviews/interview/duplicate.html", context)
        copy = interview_duplicate(interview=interview, actor=Actor.of_request(request))
        self.message_user(
            request,
            format_html("This is a copy of “{}”, with no invites. Change it as you like.", interview.title),
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:interviews_interview_change", args=[copy.pk]))


def _tidy_positions(interview: Interview, formset: Any) -> None:
    """Number the questions 0, 1, 2… in the order the recruiter gave: by their
    position, a blank one after the others, ties in the order of the form."""
    order: dict[Any, tuple[int, int]] = {}
    for index, form in enumerate(formset.forms):
        if form.cleaned_data and not form.cleaned_data.get("DELETE"):
            order[form.instance.pk] = (form.cleaned_data.get("position", AFTER_THE_OTHERS), index)
    questions = list(interview.questions.all())
    questions.sort(key=lambda q: order.get(q.pk, (q.position, -1)))
    changed = []
    for position, question in enumerate(questions):
        if question.position != position:
            question.position = position
            changed.append(question)
    Question.objects.bulk_update(changed, ["position"])


def _plain(value: object) -> object:
    """A form value as the trail's JSON keeps it (a logo by its name)."""
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(getattr(value, "name", value))
