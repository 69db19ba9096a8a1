"""cffi build script for media/fanout.c (the compiled `media._fanout`).

Built by `pip install` (setup.py's cffi_modules); media/fastpath.py loads it."""

from pathlib import Path

from cffi import FFI

# libsrtp's SRTP_MAX_TRAILER_LEN: the longest tag (16) plus the longest MKI (128).
MAX_TRAILER = 144
# The longest RTP packet protected: what fits pylibsrtp's 1500-byte buffer
# with the trailer, as in aiortc_hooks.fast_protect, so the C and Python
# paths forward the same packets (tests/media/test_fanout.py checks it).
MAX_PACKET = 1500 - MAX_TRAILER

DEFINES = f"""
#define PLENARY_MAX_PACKET {MAX_PACKET}
#define PLENARY_MAX_TRAILER {MAX_TRAILER}
"""

CDEF = DEFINES + """
struct plenary_link {
    void *srtp;             /* srtp_t of the subscriber's outbound session; NULL: closed */
    int fd;                 /* our own dup of the subscriber's ICE socket */
    int addrlen;
    unsigned char addr[28]; /* struct sockaddr_in or sockaddr_in6 */
    uint64_t errors;        /* packets SRTP or the socket refused */
};

struct plenary_out {
    struct plenary_link *link;
    uint32_t ssrc;
    uint32_t ts_off;
    uint16_t seq_off;
    uint8_t pt;
    int32_t last_seq;       /* -1 before the first packet */
    uint32_t last_ts;
    int64_t last_ms;
    uint64_t packets;
    uint64_t octets;
};

void plenary_set_protect(void *fn);
int plenary_fanout(struct plenary_out **outs, int n, const uint8_t *packet, int length,
                   int marker, int seq, uint32_t ts, int payload_length, int64_t now_ms);
"""

ffibuilder = FFI()
ffibuilder.cdef(CDEF)
ffibuilder.set_source(
    "media._fanout",
    # The same declarations the cdef has, then the code.
    "#include <stdint.h>\n"
    + CDEF.split("void plenary_set_protect")[0]
    + (Path(__file__).with_name("fanout.c")).read_text(),
    extra_compile_args=["-O2"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
