"""The answer table's binary layout: one definition, mirrored by ``engine.pxd``.

All integers are little-endian; every offset is from the start of the table; nodes and entries
are 4-byte aligned. The table is position-independent so it can be mapped read-only anywhere.

header (64 octets)
    magic[8] "DNSTBL\\0\\1", u32 nslots (a power of two), u32 flags, u64 seed,
    u32 slots_off, u32 max_labels, u32 chaos_off, u32 table_len, u32 refused_off, pad
slot (8): u32 tag (low half of the name hash), u32 node_off (0: empty)
node: u8 name_len, u8 flags, u16 ntypes, u32 default_entry, u32 below,
      name[name_len] (lower case wire), pad to 4, ntypes x {u16 qtype, u16 0, u32 entry}
entry: u16 flags (QR, AA, RCODE), u16 tlen (template question name length),
       u16 nvariants, u16 0, u32 class_any (the entry a QCLASS ANY query gets; 0: the answer
       section of this one, without AA), then nvariants x variant, largest first
variant (20): u16 min_avail, u16 body_len, u16 nfix, u16 tc, u16 an, u16 ns, u16 ar,
       u16 an_len (where the answer section ends), u32 data_off -> body[body_len], then
       nfix x u16 (ascending body positions of the pointers that move with the question)
chaos: u16 id_len (0xFFFF: none), u16 version_len (0xFFFF: none), id, version
"""

import struct

MAGIC = b"DNSTBL\x00\x01"
HEADER = struct.Struct("<8sIIQIIIII20x")
assert HEADER.size == 64
SLOT = struct.Struct("<II")
NODE = struct.Struct("<BBHII")
NODE_TYPE = struct.Struct("<HHI")
ENTRY = struct.Struct("<HHHHI")
VARIANT = struct.Struct("<HHHHHHHHI")
assert VARIANT.size == 20
CHAOS = struct.Struct("<HH")

NODE_BELOW_WILDCARD = 0x01   # ``below`` is the offset of the wildcard node, not an entry
NODE_CUT = 0x02              # a delegation point (informational; its entries say it all)
NODE_APEX = 0x04             # a zone apex (NOTIFY is refused for these, NXDOMAIN otherwise)

FLAG_QR = 0x8000
FLAG_AA = 0x0400
FLAG_TC = 0x0200
FLAG_RD = 0x0100

NO_STRING = 0xFFFF


def align4(n: int) -> int:
    return (n + 3) & ~3
