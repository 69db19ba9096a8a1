/* The SFU's per-packet fan-out: for every subscriber of one producer,
 * rewrite the RTP header, SRTP-protect and sendto.
 *
 * This is the only loop that runs once per forwarded packet (110 times per
 * incoming packet at a city-wide inquiry), so it runs without the
 * interpreter.  Everything else (keyframe gating, resynchronisation, RTCP,
 * NACK answers) stays in Python: a consumer is put in a producer's table
 * only while it is in steady state (see media/consumer.py).
 *
 * libsrtp is not linked here: pylibsrtp's own srtp_protect is handed over
 * at start-up (plenary_set_protect), so the sessions aiortc negotiated are
 * used as they are. */

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

typedef int (*plenary_protect_fn)(void *ctx, void *rtp_hdr, int *len_ptr);

static plenary_protect_fn plenary_protect = NULL;

void plenary_set_protect(void *fn)
{
    plenary_protect = (plenary_protect_fn)fn;
}

/* Wire format helpers: RTP is big-endian. */
static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

int plenary_fanout(struct plenary_out **outs, int n, const uint8_t *packet, int length,
                   int marker, int seq, uint32_t ts, int payload_length, int64_t now_ms)
{
    /* room for the SRTP trailer (auth or GCM tag, MKI) after the packet */
    uint8_t buffer[PLENARY_MAX_PACKET + PLENARY_MAX_TRAILER] __attribute__((aligned(16)));
    int sent = 0;
    if (plenary_protect == NULL || length < 12 || length > PLENARY_MAX_PACKET)
        return -1;
    for (int i = 0; i < n; i++) {
        struct plenary_out *out = outs[i];
        struct plenary_link *link = out->link;
        if (link == NULL || link->srtp == NULL)
            continue;
        uint16_t oseq = (uint16_t)(seq + out->seq_off);
        uint32_t ots = ts + out->ts_off;
        memcpy(buffer, packet, (size_t)length);
        buffer[1] = (uint8_t)(marker | out->pt);
        put16(buffer + 2, oseq);
        put32(buffer + 4, ots);
        put32(buffer + 8, out->ssrc);
        if (out->last_seq < 0 || (uint16_t)(oseq - (uint16_t)out->last_seq) < 0x8000) {
            out->last_seq = oseq;
            out->last_ts = ots;
            out->last_ms = now_ms;
        }
        out->packets += 1;
        out->octets += (uint64_t)payload_length;
        int protected_length = length;
        if (plenary_protect(link->srtp, buffer, &protected_length) != 0) {
            link->errors += 1;
            continue;
        }
        /* Non-blocking: a full send buffer drops this packet for this one
         * subscriber (it will NACK it) rather than stall everyone else. */
        if (sendto(link->fd, buffer, (size_t)protected_length, MSG_DONTWAIT,
                   (const struct sockaddr *)link->addr, (socklen_t)link->addrlen) < 0)
            link->errors += 1;
        else
            sent += 1;
    }
    return sent;
}
