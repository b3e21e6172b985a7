"""The review player (micro-kijken) in headless Chromium, inside the demo platform's cross-site
iframe: frame-exact stepping checked by the picture (the burned-in frame counter against the
server's ffmpeg still of that frame) at the start, middle and end; every keyboard shortcut; the
coach's analysis and montage; preparation versus conversation; markers that come back to their
frame after a reload; renewed media links; a phone with touch; and a teacher refused another
traject's player. Screenshots of each state go to tests/artifacts/player-*.png."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from lti_tool.cycles import services as s
from lti_tool.cycles.models import Cycle, Traject
from lti_tool.db import db
from lti_tool.demo.platform import DEMO_ISSUER, PEOPLE_BY_KEY
from lti_tool.demo.seed import TEACHER_TRAJECT, seed_demo
from lti_tool.media import pipeline, tasks
from lti_tool.media import services as media
from lti_tool.media.models import Montage, Recording
from lti_tool.people.models import Course, User
from tests.browser.traject_steps import DESKTOP, PHONE, Person

FPS = 25


@dataclass(frozen=True)
class Footage:
    traject_id: int
    cycle: int
    recording_id: int
    frame_count: int

    @property
    def player(self) -> str:
        return f"/trajects/{self.traject_id}/cycles/{self.cycle}/recording/{self.recording_id}"


def _user(key: str) -> User:
    user = db.session.scalar(
        sa.select(User).where(User.issuer == DEMO_ISSUER, User.sub == PEOPLE_BY_KEY[key].sub)
    )
    assert user is not None
    return user


@pytest.fixture(scope="module")
def demo(app: Flask) -> Footage:
    """The seeded demo traject: cycle 2 is shared with Jeroen (teacher1); its five-minute
    recording has the frame number burned in. Only looked at here, never changed."""
    with app.app_context():
        seed_demo()
        db.session.commit()
        traject = db.session.scalar(sa.select(Traject).where(Traject.title == TEACHER_TRAJECT))
        assert traject is not None
        cycle = next(c for c in traject.cycles if c.number == 2)
        recording = db.session.scalar(sa.select(Recording).where(Recording.cycle_id == cycle.id))
        assert recording is not None and recording.frame_count == 300 * FPS
        return Footage(traject.id, 2, recording.id, recording.frame_count)


@pytest.fixture(scope="module")
def fresh(app: Flask, demo: Footage) -> Footage:
    """A traject of our own for the steps that change things: the coach Sanne and Jeroen, cycle
    1 analysed but not yet shared, one classroom recording of 40 s made by the real pipeline."""
    with app.app_context():
        coach, teacher = _user("coach"), _user("teacher1")
        demo_traject = db.session.get(Traject, demo.traject_id)
        assert demo_traject is not None
        course = db.session.get(Course, demo_traject.course_id)
        assert course is not None
        traject = s.create_traject(
            course.id, coach.id, "teacher", "Micro-kijken (player)", teacher.id
        )
        s.save_intake(coach.id, traject.id, {"help_question": "Hoe houd ik de aandacht vast?"})
        s.propose_question(teacher.id, traject.id, "Hoe ontvang ik initiatieven van kinderen?")
        s.complete_intake(coach.id, traject.id)
        cycle = next(c for c in traject.cycles if c.number == 1)
        traject_id, cycle_id = traject.id, cycle.id
        db.session.commit()
        source = Path(app.config["BEELDCOACH"].instance_path) / "demo" / "player-test.mp4"
        if not source.exists():
            pipeline.demo_recording(source, 40)
        recording = processed_recording(source, cycle_id, coach.id)
        s.mark_recorded(coach.id, traject_id, 1, {"focus": "Initiatieven ontvangen"})
        s.mark_analysed(coach.id, traject_id, 1, {"analysis_notes": "Twee momenten van kracht."})
        db.session.commit()
        assert recording.frame_count == 40 * FPS
        return Footage(traject_id, 1, recording.id, recording.frame_count)


def processed_recording(
    source: Path, cycle_id: int, coach_id: int, name: str = "rekenles-kort.mp4"
) -> Recording:
    """As an upload leaves it, then processed in-process by the worker's own task."""
    recording = media.import_file(cycle_id, coach_id, source, name)
    db.session.commit()
    tasks.process_recording.run(recording.id)
    db.session.refresh(recording)
    return recording


Launch = Callable[..., Person]


@pytest.fixture
def launch(chromium: Any, demo_base: str, artifacts: Path) -> Iterator[Launch]:
    contexts: list[Any] = []

    def make(key: str, viewport: dict[str, int] = DESKTOP) -> Person:
        phone = viewport["width"] < 500
        context = chromium.new_context(viewport=viewport, is_mobile=phone, has_touch=phone)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        return Person(page, demo_base, key, artifacts, key).launch()

    yield make
    for context in contexts:
        context.close()


# --- driving the player -----------------------------------------------------------------------

# The picture check: the bottom strip of the shown frame (where "frame N  hh:mm:ss.mmm" is
# burned in) against the server's frame-exact ffmpeg stills of frames n-1, n and n+1.
PICTURE = """async ([n, count]) => {
  const root = document.querySelector('[data-player]');
  const video = root.querySelector('video');
  const token = document.getElementById('beeldcoach-api').getAttribute('data-api-token');
  const base = root.getAttribute('data-url-still');
  const W = 384, H = 36;  // the counter's part of the bar: left 60 %, bottom 10 %, at 640x360
  function strip(source, width, height) {
    const canvas = document.createElement('canvas');
    canvas.width = W; canvas.height = H;
    const context = canvas.getContext('2d');
    context.drawImage(source, 0, height * 0.9, width * 0.6, height * 0.1, 0, 0, W, H);
    return context.getImageData(0, 0, W, H).data;
  }
  // Pixels that differ clearly (text against the dark bar), not compression noise.
  function differing(a, b) {
    let count = 0;
    for (let i = 0; i < a.length; i += 4) {
      const d = Math.abs(a[i] - b[i]) + Math.abs(a[i + 1] - b[i + 1])
        + Math.abs(a[i + 2] - b[i + 2]);
      if (d > 150) { count += 1; }
    }
    return count;
  }
  const shown = strip(video, video.videoWidth, video.videoHeight);
  const out = {};
  for (const k of [n - 1, n, n + 1]) {
    if (k < 0 || k >= count) { continue; }
    const answer = await fetch(base.replace(/\\/stills\\/\\d+$/, '/stills/' + k),
      {headers: {Authorization: 'Bearer ' + token}, credentials: 'omit'});
    const still = new Image();
    still.src = (await answer.json()).url;
    await still.decode();
    out[k] = differing(shown, strip(still, still.naturalWidth, still.naturalHeight));
  }
  return out;
}"""


class Player:
    def __init__(self, person: Person, footage: Footage) -> None:
        self.person, self.footage = person, footage
        self.f = person.f

    def open(self, path: str | None = None, mode: str | None = None) -> Player:
        self.person.open((path or self.footage.player) + (f"?mode={mode}" if mode else ""))
        self.f.locator("[data-player][data-state=ready][data-ready='1']").wait_for()
        return self

    @property
    def root(self) -> Any:
        return self.f.locator("[data-player]")

    def attr(self, name: str) -> str | None:
        value: str | None = self.root.get_attribute(name)
        return value

    def settle(self) -> int:
        """Wait until the seek is over and the browser presented the frame; return it."""
        self.person.frame.wait_for_function(
            """() => { const r = document.querySelector('[data-player]');
              const v = r.querySelector('video');
              return !v.seeking && !r.hasAttribute('data-seeking') && v.readyState >= 2; }"""
        )
        self.person.frame.wait_for_timeout(60)  # the frame callback after `seeked`
        return int(self.attr("data-frame") or -1)

    def key(self, key: str) -> int:
        self.f.get_by_test_id("timeline").focus()
        self.person.page.keyboard.press(key)
        return self.settle()

    def click(self, testid: str) -> int:
        self.f.get_by_test_id(testid).click()
        return self.settle()

    def seek_fraction(self, fraction: float) -> int:
        box = self.f.get_by_test_id("timeline").bounding_box()
        self.person.page.mouse.click(box["x"] + box["width"] * fraction, box["y"] + 10)
        return self.settle()

    def check_shown(self, n: int) -> None:
        """The frame on screen is frame n, by currentTime and by the picture."""
        assert self.settle() == n
        t = self.person.frame.evaluate("document.querySelector('video').currentTime")
        assert n / FPS <= t < (n + 1) / FPS, (n, t)
        scores = self.person.frame.evaluate(PICTURE, [n, self.footage.frame_count])
        best = min(scores, key=lambda k: scores[k])
        assert int(best) == n and all(
            scores[k] > scores[str(n)] * 3 + 20 for k in scores if k != str(n)
        ), scores

    def shot(self, name: str, whole: bool = False) -> None:
        """What the window shows; with whole=True the whole player page (the iframe
        stretched, see Person.shot)."""
        self.person.shot(f"player-{name}", whole=whole)


# --- frame-exact stepping -----------------------------------------------------------------------


@pytest.mark.browser
def test_one_step_is_exactly_one_frame_at_the_start_middle_and_end(
    launch: Launch, demo: Footage
) -> None:
    player = Player(launch("teacher1"), demo).open()
    last = demo.frame_count - 1
    assert player.attr("data-mode") == "preparation"

    assert player.key("Home") == 0
    player.check_shown(0)
    assert player.key("ArrowLeft") == 0  # no frame before the first
    assert player.key("ArrowRight") == 1
    player.check_shown(1)
    assert player.click("next-frame") == 2
    player.check_shown(2)
    assert player.click("prev-frame") == 1
    assert player.key("ArrowLeft") == 0
    player.check_shown(0)

    middle = player.seek_fraction(0.5)
    assert abs(middle - demo.frame_count // 2) <= 2
    assert player.key("ArrowRight") == middle + 1
    player.check_shown(middle + 1)
    assert player.key("ArrowLeft") == middle
    player.check_shown(middle)
    assert player.key("ArrowLeft") == middle - 1
    player.check_shown(middle - 1)
    player.shot("frame-step-middle")

    assert player.key("End") == last
    player.check_shown(last)
    assert player.key("ArrowRight") == last  # no frame after the last
    assert player.key("ArrowLeft") == last - 1
    player.check_shown(last - 1)
    assert player.click("next-frame") == last
    player.check_shown(last)


# --- the keyboard ---------------------------------------------------------------------------------


@pytest.mark.browser
def test_keyboard_shortcuts(launch: Launch, demo: Footage) -> None:
    person = launch("teacher1")
    player = Player(person, demo).open()
    frame = person.frame
    start = player.seek_fraction(0.2)

    # Seconds: J/L one second, Shift+arrows five, PageUp/PageDown five too.
    assert player.key("l") == start + FPS
    assert player.key("j") == start
    assert player.key("Shift+ArrowRight") == start + 5 * FPS
    assert player.key("Shift+ArrowLeft") == start
    assert player.key("PageDown") == start + 5 * FPS
    assert player.key("PageUp") == start
    assert player.click("fwd1") == start + FPS
    assert player.click("back1") == start
    assert player.click("fwd5") == start + 5 * FPS
    assert player.click("back5") == start

    # Space and K play and pause.
    player.key(" ")
    frame.wait_for_function("() => !document.querySelector('video').paused")
    frame.wait_for_function(
        f"() => document.querySelector('video').currentTime > {start / FPS + 0.3}"
    )
    player.key("k")
    assert frame.evaluate("document.querySelector('video').paused")
    player.key("k")
    frame.wait_for_function("() => !document.querySelector('video').paused")
    player.key(" ")
    assert frame.evaluate("document.querySelector('video').paused")

    # S: slow motion 0.5x, 0.25x, back to 1x; the buttons do the same.
    player.key("s")
    assert player.attr("data-rate") == "0.5"
    player.key("s")
    assert player.attr("data-rate") == "0.25"
    assert player.f.get_by_test_id("rate-0.25").get_attribute("aria-pressed") == "true"
    player.key("s")
    assert player.attr("data-rate") == "1"
    player.f.get_by_test_id("rate-0.5").click()
    assert frame.evaluate("document.querySelector('video').playbackRate") == 0.5
    player.f.get_by_test_id("rate-1").click()

    # I and O set a segment; R repeats it while playing.
    at = player.key("Home")
    at = player.key("PageDown")
    player.key("i")
    player.key("ArrowRight")
    for _ in range(11):
        player.key("ArrowRight")
    out = player.key("o")
    assert (player.attr("data-in"), player.attr("data-out")) == (str(at), str(out))
    assert out == at + 12
    player.key("r")
    assert player.attr("data-loop") == "1"
    player.key(" ")
    frame.wait_for_function(
        "() => Number(document.querySelector('[data-player]').getAttribute('data-loops')) >= 2",
        timeout=10_000,
    )
    player.key(" ")
    assert at <= player.settle() <= out
    player.key("r")
    assert player.attr("data-loop") == "0"

    # F: a large still of exactly this frame from the server; Esc closes it.
    here = player.key("ArrowRight")
    player.key("f")
    player.f.locator(f"[data-player][data-still-frame='{here}']").wait_for()
    assert player.f.get_by_test_id("still").is_visible()
    player.shot("still-desktop")
    person.page.keyboard.press("Escape")
    player.f.get_by_test_id("still").wait_for(state="hidden")
    player.click("freeze")
    player.f.locator(f"[data-player][data-still-frame='{here}']").wait_for()
    player.f.get_by_test_id("close-still").click()
    player.f.get_by_test_id("still").wait_for(state="hidden")

    # + and - zoom the timeline; the playhead stays in view.
    player.key("+")
    player.key("+")
    assert player.attr("data-zoom") == "4"
    player.click("zoom-in")
    assert player.attr("data-zoom") == "8"
    inside = frame.evaluate(
        """() => { const s = document.querySelector('[data-role=scroll]');
          const h = document.querySelector('[data-role=playhead]').getBoundingClientRect();
          const b = s.getBoundingClientRect(); return h.left >= b.left && h.right <= b.right; }"""
    )
    assert inside
    player.shot("timeline-zoomed")
    player.key("-")
    player.click("zoom-out")
    player.key("-")
    assert player.attr("data-zoom") == "1"

    # M: a new marker at this frame (the form opens with the frame named, Esc closes it).
    player.key("m")
    form = player.f.get_by_test_id("marker-form")
    form.wait_for()
    # With a segment set (in and out above), the marker is for the segment unless unticked.
    assert player.f.get_by_test_id("marker-segment").is_checked()
    assert form.get_attribute("data-start-frame") == player.attr("data-in")
    player.f.get_by_test_id("marker-segment").uncheck()
    assert form.get_attribute("data-start-frame") == player.attr("data-frame")
    person.page.keyboard.press("Escape")
    form.wait_for(state="hidden")

    # Hovering the timeline shows a thumbnail preview of that moment.
    player.f.locator("[data-player][data-thumbnails-ready]").wait_for()
    box = player.f.get_by_test_id("timeline").bounding_box()
    person.page.mouse.move(box["x"] + box["width"] * 0.75, box["y"] + 10)
    preview = player.f.get_by_test_id("preview")
    preview.wait_for()
    image = frame.evaluate(
        "getComputedStyle(document.querySelector('[data-role=preview-img]')).backgroundImage"
    )
    assert "/media/" in image
    player.shot("thumbnail-preview")

    # The shortcuts are listed on the page.
    listed = player.f.get_by_test_id("shortcuts")
    listed.locator("summary").click()
    text = listed.inner_text()
    for key in ("K", "J", "L", "S", "I", "O", "R", "F", "M", "Esc"):
        assert key in text


# --- the whole micro-viewing of a cycle: analysis, preparation, conversation ------------------


def _marker_count(player: Player) -> int:
    return int(player.f.locator("[data-testid=marker-list] li[data-marker]").count())


def _add_marker(player: Player, text: str, kind: str = "strength", tag: str | None = None) -> int:
    player.key("m")
    form = player.f.get_by_test_id("marker-form")
    form.wait_for()
    form.locator(f"input[name=kind][value={kind}]").check()
    player.f.get_by_test_id("marker-text").fill(text)
    if tag:
        form.locator(f"input[name=tags][value='{tag}']").check()
        player.f.get_by_test_id("marker-domain").select_option("interactie")
    before = _marker_count(player)
    player.f.get_by_test_id("marker-save").click()
    form.wait_for(state="hidden")
    player.f.locator("[data-testid=marker-list] li[data-marker]").nth(before).wait_for()
    item = player.f.locator("[data-testid=marker-list] li[data-marker]", has_text=text)
    return int(item.get_attribute("data-marker") or 0)


@pytest.mark.browser
def test_analysis_preparation_and_conversation_on_one_player(
    launch: Launch, app: Flask, fresh: Footage
) -> None:
    coach = Player(launch("coach"), fresh).open()
    assert coach.attr("data-mode") == "analysis"
    assert coach.f.get_by_test_id("tab-montage").is_visible()

    # The coach marks a moment of strength and cuts two clips into the montage.
    coach.key("Home")
    coach.key("PageDown")
    coach_frame = coach.key("ArrowRight")
    coach_marker = _add_marker(coach, "Knikt naar Sara", tag="Instemmend benoemen")
    coach.f.get_by_test_id("tab-montage").click()
    for seconds, caption in ((3, "Sara steekt haar vinger op"), (20, "Daan begint")):
        coach.key("Home")
        for _ in range(seconds):
            coach.key("l")
        coach.key("i")
        coach.key("Shift+ArrowRight")
        coach.key("o")
        coach.f.get_by_test_id("new-clip-caption").fill(caption)
        coach.f.get_by_test_id("add-clip").click()
    clips = coach.f.locator("[data-testid=montage-clips] li")
    assert clips.count() == 2
    coach.f.get_by_test_id("clip-up-1").click()
    assert "Daan begint" in clips.nth(0).locator("input").input_value()
    coach.f.get_by_test_id("montage-title").fill("Initiatieven")
    coach.f.get_by_test_id("render-montage").click()
    coach.f.locator("[data-testid=montage][data-montage-status=rendering]").wait_for()
    with app.app_context():
        montage = db.session.scalar(
            sa.select(Montage)
            .join(Cycle, Cycle.id == Montage.cycle_id)
            .where(Cycle.traject_id == fresh.traject_id)
        )
        assert montage is not None
        assert [c["caption"] for c in montage.clips] == [
            "Daan begint",
            "Sara steekt haar vinger op",
        ]
        tasks.render_montage.run(montage.id)  # what the worker does
    coach.open()
    coach.f.get_by_test_id("tab-montage").click()
    coach.f.get_by_test_id("montage-link").wait_for()
    coach.shot("analysis-montage-coach", whole=True)
    coach.f.get_by_test_id("share").click()
    coach.f.locator("[data-player][data-step=shared]").wait_for()

    # Preparation: Jeroen alone sees his own markers only, and the kijkwijzer beside the video.
    teacher = Player(launch("teacher1"), fresh).open()
    assert teacher.attr("data-mode") == "preparation"
    assert _marker_count(teacher) == 0
    assert teacher.f.locator(f"[data-testid=timeline-marker-{coach_marker}]").count() == 0
    teacher.key("Home")
    for _ in range(7):
        teacher.key("l")
    frame_n = teacher.key("ArrowRight")
    own = _add_marker(teacher, "Ik wacht tot Sara klaar is", tag="Ontvangen: verbaal")
    teacher.key("End")
    question = _add_marker(teacher, "Wat doet Noor?", kind="question")
    teacher.shot("preparation-teacher", whole=True)

    # Reload: the marker goes back to exactly frame N.
    teacher.open()
    teacher.f.get_by_test_id(f"jump-{own}").click()
    teacher.check_shown(frame_n)
    assert teacher.attr("data-jumped-marker") == str(own)

    # Edit and delete one's own markers.
    teacher.f.get_by_test_id(f"edit-{own}").click()
    teacher.f.get_by_test_id("marker-text").fill("Ik wacht rustig tot Sara klaar is")
    teacher.f.get_by_test_id("marker-save").click()
    teacher.f.locator(f"[data-testid=marker-{own}]:has-text('rustig')").wait_for()
    teacher.f.get_by_test_id(f"delete-{question}").click()
    teacher.f.get_by_test_id(f"delete-{question}").click()  # the second press confirms
    teacher.f.get_by_test_id(f"marker-{question}").wait_for(state="detached")

    # The kijkwijzer: a time-code answer is one click; then submitted from the player.
    teacher.f.get_by_test_id("tab-guide").click()
    teacher.key("Home")
    for _ in range(5):
        teacher.key("l")
    teacher.f.get_by_test_id("use-now-q2").click()
    teacher.f.get_by_test_id("guide-jump-q2").wait_for()
    assert teacher.f.get_by_test_id("guide-jump-q2").inner_text() == "0:05.000"
    guide = teacher.f.get_by_test_id("guide-form")
    guide.locator("textarea[name=q2]").fill("Sara steekt haar vinger op.")
    teacher.key("PageDown")
    teacher.f.get_by_test_id("use-now-q3").click()
    teacher.f.get_by_test_id("guide-jump-q3").wait_for()
    guide.locator("textarea[name=q3]").fill("Ik knik; ze gaat door.")
    guide.locator("textarea[name=q4]").fill("Twee initiatieven, verbaal ontvangen.")
    guide.locator("input[name=q5][value='4']").check()
    guide.locator("textarea[name=q6]").fill("Vaker wachten.")
    guide.locator("input[name=q7]").first.check()
    teacher.shot("preparation-kijkwijzer", whole=True)
    teacher.f.get_by_test_id("guide-submit").click()
    teacher.f.locator("[data-player][data-mode=conversation]").wait_for()

    # Conversation: both people's markers; the teacher may still look back alone.
    assert _marker_count(teacher) == 2
    assert teacher.f.get_by_test_id("mode-preparation").is_visible()
    teacher.f.get_by_test_id("mode-preparation").click()
    teacher.f.locator("[data-player][data-mode=preparation]").wait_for()
    assert _marker_count(teacher) == 1

    coach.open()
    assert coach.attr("data-mode") == "conversation"
    assert _marker_count(coach) == 2
    assert coach.f.get_by_test_id(f"timeline-marker-{own}").count() == 1
    coach.f.get_by_test_id(f"jump-{coach_marker}").click()
    assert coach.settle() == coach_frame
    coach.f.get_by_test_id("tab-conversation").click()
    panel = coach.f.get_by_test_id("conversation")
    assert "Twee momenten van kracht." in panel.inner_text()  # the coach's analysis
    assert "Daan begint" in panel.inner_text()  # the montage's captions
    coach.f.get_by_test_id("conversation-notes").fill("Samen stilgezet bij 0:07.")
    coach.f.get_by_test_id("save-notes").click()
    coach.f.get_by_test_id("new-action-point").fill("Na een vraag drie tellen wachten.")
    coach.f.get_by_test_id("add-action-point").click()
    coach.f.locator("[data-testid=action-points]:has-text('drie tellen')").wait_for()
    coach.shot("conversation-coach", whole=True)

    teacher.open(mode="conversation")
    teacher.f.get_by_test_id("tab-conversation").click()
    teacher.f.locator("[data-testid=action-points]:has-text('drie tellen')").wait_for()
    assert teacher.f.locator(f"[data-testid=marker-still-{own}]").count() == 1
    teacher.shot("conversation-teacher", whole=True)


# --- who may see it -----------------------------------------------------------------------------


@pytest.mark.browser
def test_a_teacher_cannot_see_another_trajects_player(
    launch: Launch, demo: Footage, artifacts: Path
) -> None:
    fatima = launch("teacher2")
    fatima.open(demo.player)
    fatima.f.locator("[data-player]").wait_for(state="detached")
    assert fatima.frame.evaluate("document.body.innerText").strip()
    assert fatima.f.locator("video").count() == 0
    status = fatima.frame.evaluate(
        """(url) => fetch(url, {headers: {Authorization: 'Bearer ' +
            document.querySelector('[data-api-token]')?.getAttribute('data-api-token')}})
            .then(r => r.status)""",
        f"/api/trajects/{demo.traject_id}/cycles/2/recordings/{demo.recording_id}/player",
    )
    assert status in (401, 403)
    fatima.page.screenshot(path=str(artifacts / "player-refused-other-teacher.png"))


# --- links that expire, a phone -----------------------------------------------------------------


@pytest.mark.browser
def test_an_expired_media_link_is_renewed_where_the_viewer_was(
    launch: Launch, demo: Footage
) -> None:
    person = launch("teacher1")
    player = Player(person, demo).open()
    here = player.seek_fraction(0.4)
    # The next request for the video is refused as an expired signed URL would be.
    person.page.route("**/media/s/**", lambda route: route.fulfill(status=403), times=1)
    person.frame.evaluate("() => { const v = document.querySelector('video'); v.src = v.src; }")
    player.f.locator("[data-player][data-renewed='1']").wait_for()
    player.check_shown(here)


@pytest.mark.browser
def test_the_player_on_a_phone_with_touch(launch: Launch, demo: Footage) -> None:
    person = launch("teacher1", PHONE)
    player = Player(person, demo).open()
    overflow = person.frame.evaluate(
        "document.scrollingElement.scrollWidth - document.scrollingElement.clientWidth"
    )
    assert overflow <= 0, f"the player scrolls sideways by {overflow}px at 360px"
    start = player.settle()
    player.f.get_by_test_id("next-frame").tap()
    assert player.settle() == start + 1
    player.f.get_by_test_id("prev-frame").tap()
    assert player.settle() == start
    player.f.get_by_test_id("video").tap()  # tap to play
    person.frame.wait_for_function("() => !document.querySelector('video').paused")
    player.f.get_by_test_id("video").tap()  # tap to pause
    person.frame.wait_for_function("() => document.querySelector('video').paused")
    small = person.frame.evaluate(
        """() => [...document.querySelectorAll('.pl-controls button')]
            .filter(b => b.offsetParent && b.getBoundingClientRect().height < 44).length"""
    )
    assert small == 0
    person.shot("player-phone")
