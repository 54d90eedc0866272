import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";

import { setLanguage, t } from "../../frontend/js/i18n.js";
import {
  initialTimeZone,
  quietHoursValue,
  timeZoneChoices,
  timeZoneLabel,
} from "../../frontend/js/preferences.js";

afterEach(() => setLanguage("fr"));

describe("preferences", () => {
  it("shows the saved zone while quiet hours use it, else the browser's", () => {
    const quiet = { start: "22:00", end: "07:00" };
    assert.equal(
      initialTimeZone({ quiet_hours: quiet, time_zone: "Asia/Tokyo" }, "Europe/Paris"),
      "Asia/Tokyo",
    );
    assert.equal(
      initialTimeZone({ quiet_hours: null, time_zone: "Europe/Paris" }, "America/Montreal"),
      "America/Montreal",
    );
    assert.equal(initialTimeZone({ quiet_hours: null, time_zone: "UTC" }, ""), "UTC");
    assert.equal(initialTimeZone(null, undefined), "Europe/Paris");
  });

  it("offers no browser zone that the browser itself does not list", () => {
    const known = ["America/Montreal", "Europe/Paris"];
    const prefs = { quiet_hours: null, time_zone: "Europe/Paris" };
    assert.equal(initialTimeZone(prefs, "Etc/Unknown", known), "Europe/Paris");
    assert.equal(initialTimeZone(prefs, "America/Montreal", known), "America/Montreal");
  });

  it("lists every zone once, sorted, with the ones it must show", () => {
    assert.deepEqual(
      timeZoneChoices(["Europe/Paris", "America/Montreal"], "UTC", "Europe/Paris", null),
      ["America/Montreal", "Europe/Paris", "UTC"],
    );
  });

  it("labels zones without underscores", () => {
    assert.equal(timeZoneLabel("America/Argentina/Buenos_Aires"), "America/Argentina/Buenos Aires");
  });

  it("turns the toggle and the two times into the PATCH value", () => {
    assert.deepEqual(quietHoursValue({ enabled: false, start: "22:00", end: "07:00" }), {
      value: null,
    });
    assert.deepEqual(quietHoursValue({ enabled: true, start: "22:00", end: "07:00" }), {
      value: { start: "22:00", end: "07:00" },
    });
    assert.deepEqual(quietHoursValue({ enabled: true, start: "22:00:00", end: "07:30:00" }), {
      value: { start: "22:00", end: "07:30" },
    });
  });

  it("refuses an empty window or a missing time before the server does", () => {
    assert.deepEqual(quietHoursValue({ enabled: true, start: "08:00", end: "08:00" }), {
      error: "settings.quietSame",
    });
    assert.deepEqual(quietHoursValue({ enabled: true, start: "", end: "07:00" }), {
      error: "settings.quietMissing",
    });
    assert.deepEqual(quietHoursValue({ enabled: true, start: "25:00", end: "07:00" }), {
      error: "settings.quietMissing",
    });
  });

  it("explains each refusal in French and in English", () => {
    for (const key of ["settings.quietSame", "settings.quietMissing"]) {
      const french = t(key);
      setLanguage("en");
      const english = t(key);
      setLanguage("fr");
      assert.notEqual(french, key);
      assert.notEqual(english, french);
    }
  });
});
