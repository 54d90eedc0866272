import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { IDLE_AFTER_MS, presenceState } from "../../frontend/js/presence.js";

describe("presenceState", () => {
  it("is active while used", () => {
    assert.equal(presenceState({ now: 1000, lastActivity: 900, hiddenSince: null }), "active");
  });

  it("is idle after five minutes untouched", () => {
    const now = IDLE_AFTER_MS + 10;
    assert.equal(presenceState({ now, lastActivity: 10, hiddenSince: null }), "idle");
    assert.equal(presenceState({ now, lastActivity: 11, hiddenSince: null }), "active");
  });

  it("is idle after five minutes hidden, even if touched just before", () => {
    const now = IDLE_AFTER_MS + 100;
    assert.equal(presenceState({ now, lastActivity: now - 1, hiddenSince: 100 }), "idle");
    assert.equal(presenceState({ now, lastActivity: now - 1, hiddenSince: 101 }), "active");
  });
});
