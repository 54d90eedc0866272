// The full-size photo: a modal dialog (Escape closes it, as does its button;
// focus goes back to the thumbnail that opened it).

import { byId } from "./dom.js";

export class PhotoViewer {
  constructor() {
    this.dialog = byId("photo-viewer");
    this.image = byId("photo-viewer-image");
    this.name = byId("photo-viewer-name");
    this.download = byId("photo-viewer-download");
    this.opener = null;
    byId("photo-viewer-close").addEventListener("click", () => this.dialog.close());
    this.dialog.addEventListener("close", () => {
      this.image.removeAttribute("src");
      if (this.opener?.isConnected) this.opener.focus();
      this.opener = null;
    });
    // A click on the backdrop (outside the picture and its bar) closes too.
    this.dialog.addEventListener("click", (event) => {
      if (event.target === this.dialog) this.dialog.close();
    });
  }

  open(attachment, opener) {
    this.opener = opener;
    this.image.src = attachment.url;
    this.image.alt = attachment.name;
    if (attachment.width && attachment.height) {
      this.image.width = attachment.width;
      this.image.height = attachment.height;
    }
    this.name.textContent = attachment.name;
    this.download.href = attachment.url;
    this.download.download = attachment.name;
    this.dialog.showModal();
    byId("photo-viewer-close").focus();
  }
}
