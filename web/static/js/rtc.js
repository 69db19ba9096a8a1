// WebRTC helpers shared by the pages that talk to the hub's SFU (the meeting
// client's media feature, the big screen).

// aiortc does not trickle ICE: an answer or offer goes once gathering is
// complete, or after this long with what was gathered by then.
const GATHER_TIMEOUT_MS = 3000;

export function waitForGathering(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState !== "complete") return;
      pc.removeEventListener("icegatheringstatechange", done);
      resolve();
    };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, GATHER_TIMEOUT_MS);
  });
}
