// The connection state, in a role="status" region (announced politely).

import { t } from "../i18n.js";

const KEYS = {
  connecting: "status.connecting",
  online: "status.online",
  offline: "status.offline",
  revoked: "status.revoked",
};

export function renderStatus(node, status) {
  const key = KEYS[status] ?? KEYS.offline;
  node.dataset.state = status;
  if (node.textContent !== t(key)) node.textContent = t(key);
}
