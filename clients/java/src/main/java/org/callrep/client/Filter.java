package org.callrep.client;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * Filter is one downloaded filter file (a full snapshot or a delta), parsed
 * and checked as section "Filter files" of docs/phone-contract.md says.
 */
public final class Filter {
    /** BadFilterException is thrown for a file that is not a valid filter. */
    public static final class BadFilterException extends Exception {
        private static final long serialVersionUID = 1L;

        BadFilterException(String message) {
            super(message);
        }
    }

    private static final long MAX_BITS = 1L << 34;

    public final String name;
    public final long version;
    /** base is the version a delta applies to; 0 for a full snapshot. */
    public final long base;
    public final long created;
    public final long entries;
    public final long capacity;
    public final double fpRate;
    public final long m;
    public final long k;
    public final String sha256;
    private final byte[] bytes;
    private final long[] words;

    private Filter(String name, long version, long base, long created, long entries, long capacity, double fpRate,
            long m, long k, String sha256, byte[] bytes, long[] words) {
        this.name = name;
        this.version = version;
        this.base = base;
        this.created = created;
        this.entries = entries;
        this.capacity = capacity;
        this.fpRate = fpRate;
        this.m = m;
        this.k = k;
        this.sha256 = sha256;
        this.bytes = bytes;
        this.words = words;
    }

    /** delta reports whether the file holds only the keys added since base. */
    public boolean delta() {
        return base != 0;
    }

    /** bytes returns the file as downloaded. */
    public byte[] bytes() {
        return bytes.clone();
    }

    /**
     * parse reads b strictly; with wantSha256 non-null the bytes must hash
     * to it (the ETag of the download).
     */
    public static Filter parse(byte[] b, String wantSha256) throws BadFilterException {
        String sum = sha256Hex(b);
        if (wantSha256 != null && !wantSha256.equals(sum)) {
            throw new BadFilterException("sha256 " + sum + ", want " + wantSha256);
        }
        if (b.length < 7 || b[0] != 'C' || b[1] != 'R' || b[2] != 'B' || b[3] != 'F') {
            throw new BadFilterException("no CRBF header");
        }
        if (b[4] != 1) {
            throw new BadFilterException("format " + b[4] + ", want 1");
        }
        int flags = b[5] & 0xff, n = b[6] & 0xff;
        if ((flags & ~1) != 0 || n == 0 || n > 32) {
            throw new BadFilterException("flags or name length");
        }
        if (b.length < 7 + n + 72) {
            throw new BadFilterException("truncated header");
        }
        ByteBuffer r = ByteBuffer.wrap(b, 7 + n, b.length - 7 - n).order(ByteOrder.BIG_ENDIAN);
        String name = new String(b, 7, n, StandardCharsets.UTF_8);
        long version = r.getLong(), base = r.getLong(), created = r.getLong();
        long entries = r.getLong(), capacity = r.getLong();
        double rate = Double.longBitsToDouble(r.getLong());
        long m = r.getLong(), k = r.getLong(), length = r.getLong();
        if (version == 0 || ((flags & 1) != 0) != (base != 0) || Long.compareUnsigned(base, version) > 0) {
            throw new BadFilterException("version " + version + ", base " + base);
        }
        if (!(rate > 0 && rate < 1)) {
            throw new BadFilterException("rate " + rate);
        }
        if (m <= 0 || m > MAX_BITS || length != m || k <= 0 || k > 64) {
            throw new BadFilterException("m " + m + ", k " + k + ", bitset length " + length);
        }
        long wordCount = (m + 63) / 64;
        if (r.remaining() != wordCount * 8) {
            throw new BadFilterException("bitset has " + r.remaining() + " bytes, want " + wordCount * 8);
        }
        if (capacity <= 0 || Long.compareUnsigned(entries, capacity) > 0 || capacity > m) {
            throw new BadFilterException("entries " + entries + ", capacity " + capacity);
        }
        long[] words = new long[(int) wordCount];
        r.asLongBuffer().get(words);
        return new Filter(name, version, base, created, entries, capacity, rate, m, k, sum, b.clone(), words);
    }

    /** test reports whether key may be in the filter; false is certain. */
    public boolean test(String key) {
        long[] h = baseHashes(key.getBytes(StandardCharsets.UTF_8));
        for (long i = 0; i < k; i++) {
            long j = Long.remainderUnsigned(location(h, i), m);
            if ((words[(int) (j >>> 6)] >>> (j & 63) & 1) == 0) {
                return false;
            }
        }
        return true;
    }

    /** baseHashes are Murmur3 of the key and of the key with 0x01 appended. */
    static long[] baseHashes(byte[] key) {
        byte[] more = java.util.Arrays.copyOf(key, key.length + 1);
        more[key.length] = 1;
        long[] a = murmur3(key), b = murmur3(more);
        return new long[] {a[0], a[1], b[0], b[1]};
    }

    /** location is h[i mod 2] + i·h[2 + ((i + i mod 2) mod 4) / 2], wrapping. */
    static long location(long[] h, long i) {
        return h[(int) (i % 2)] + i * h[(int) (2 + ((i + i % 2) % 4) / 2)];
    }

    /** murmur3 is MurmurHash3_x64_128 with seed 0: {h1, h2}. */
    static long[] murmur3(byte[] data) {
        final long c1 = 0x87c37b91114253d5L, c2 = 0x4cf5ad432745937fL;
        long h1 = 0, h2 = 0;
        ByteBuffer bb = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        int blocks = data.length / 16;
        for (int i = 0; i < blocks; i++) {
            long k1 = bb.getLong(i * 16), k2 = bb.getLong(i * 16 + 8);
            h1 ^= Long.rotateLeft(k1 * c1, 31) * c2;
            h1 = (Long.rotateLeft(h1, 27) + h2) * 5 + 0x52dce729;
            h2 ^= Long.rotateLeft(k2 * c2, 33) * c1;
            h2 = (Long.rotateLeft(h2, 31) + h1) * 5 + 0x38495ab5;
        }
        int tail = blocks * 16, rest = data.length - tail;
        long k1 = 0, k2 = 0;
        for (int i = rest - 1; i >= 8; i--) {
            k2 = k2 << 8 | (data[tail + i] & 0xffL);
        }
        for (int i = Math.min(rest, 8) - 1; i >= 0; i--) {
            k1 = k1 << 8 | (data[tail + i] & 0xffL);
        }
        if (rest > 8) {
            h2 ^= Long.rotateLeft(k2 * c2, 33) * c1;
        }
        if (rest > 0) {
            h1 ^= Long.rotateLeft(k1 * c1, 31) * c2;
        }
        h1 ^= data.length;
        h2 ^= data.length;
        h1 += h2;
        h2 += h1;
        h1 = fmix(h1);
        h2 = fmix(h2);
        h1 += h2;
        h2 += h1;
        return new long[] {h1, h2};
    }

    private static long fmix(long k) {
        k ^= k >>> 33;
        k *= 0xff51afd7ed558ccdL;
        k ^= k >>> 33;
        k *= 0xc4ceb9fe1a85ec53L;
        k ^= k >>> 33;
        return k;
    }

    static String sha256Hex(byte[] b) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
