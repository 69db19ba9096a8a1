"""Meetings as the congress office runs them (the console's 会议 and 邀请
tabs): their kind and schedule, their status life cycle, and each
participant's join link (its generation, its expiry, its QR code).

- `lifecycle`: kind, schedule, `scheduled → open → started → closed`, the
  `meeting:status` event, the list of meetings.
- `invitations`: join links signed deterministically from stored claims,
  re-issuing (the old link stops working), and the checks that REST and
  Socket.IO connect make of a participant's token.
QR codes and the printable invitation list are drawn in web/invitation_sheet.py.
"""
