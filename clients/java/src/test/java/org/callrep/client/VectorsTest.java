package org.callrep.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** VectorsTest runs the client over every vector in contract/vectors. */
class VectorsTest {
    static Map<String, Object> vectors(String name) throws IOException {
        Path dir = Path.of(System.getProperty("callrep.vectors", "../../contract/vectors"));
        return Json.object(Json.parse(Files.readString(dir.resolve(name), StandardCharsets.UTF_8)));
    }

    static List<String> strings(Object o) {
        List<String> out = new ArrayList<>();
        for (Object x : Json.list(o)) {
            out.add((String) x);
        }
        return out;
    }

    /**
     * keys: every caller ID must give the vector's key or refusal, except
     * where the vector or the phone's own rule says to ask the server; those
     * disagreements and differences in validity (metadata of Debian's
     * libphonenumber against the server's) are reported, not failed.
     */
    @Test
    void keys() throws IOException {
        List<Object> vs = Json.list(vectors("keys.json").get("vectors"));
        List<String> failures = new ArrayList<>(), askServer = new ArrayList<>(), validity = new ArrayList<>();
        int agree = 0;
        for (Object o : vs) {
            Map<String, Object> v = Json.object(o);
            String region = (String) v.get("region"), input = (String) v.get("input");
            String wantKey = (String) v.get("key"), wantError = (String) v.get("error");
            boolean wantAsk = Boolean.TRUE.equals(v.get("ask_server"));
            Keys.Result got = Keys.derive(input, region);
            String line = region + " \"" + input + "\": server " + (wantKey != null ? wantKey : wantError)
                    + ", phone " + (got.ok() ? got.key() : got.error());
            boolean same = got.ok() ? got.key().equals(wantKey) : got.error().equals(wantError);
            if (same && got.askServer() != wantAsk) {
                failures.add(line + ": ask_server " + got.askServer() + ", want " + wantAsk);
            } else if (same) {
                agree++;
                if (got.ok() && got.valid() != (Boolean) v.get("valid")) {
                    validity.add(line + ": valid " + got.valid() + " here, " + v.get("valid") + " on the server");
                }
            } else if (wantAsk || got.askServer()) {
                askServer.add(line);
            } else {
                failures.add(line);
            }
        }
        System.out.printf("keys: %d vectors, %d agree, %d differ where the phone asks the server, %d differ in validity only%n",
                vs.size(), agree, askServer.size(), validity.size());
        askServer.forEach(s -> System.out.println("  ask the server: " + s));
        validity.forEach(s -> System.out.println("  metadata: " + s));
        if (!failures.isEmpty()) {
            fail(failures.size() + " key vectors disagree:\n  " + String.join("\n  ", failures));
        }
    }

    @Test
    void filters() throws Exception {
        for (Object o : Json.list(vectors("filters.json").get("filters"))) {
            Map<String, Object> v = Json.object(o);
            Filter f = Filter.parse(Base64.getDecoder().decode((String) v.get("bytes")), (String) v.get("sha256"));
            assertEquals(v.get("name"), f.name);
            assertEquals(v.get("version"), f.version);
            assertEquals(v.get("m"), f.m);
            assertEquals(v.get("k"), f.k);
            assertEquals(v.get("entries"), f.entries);
            for (String key : strings(v.get("members"))) {
                assertTrue(f.test(key), f.name + " must hold " + key);
            }
            for (String key : strings(v.get("non_members"))) {
                assertFalse(f.test(key), f.name + " must not hold " + key);
            }
            for (Object ho : Json.list(v.get("hashes"))) {
                Map<String, Object> hv = Json.object(ho);
                long[] h = Filter.baseHashes(((String) hv.get("key")).getBytes(StandardCharsets.UTF_8));
                List<String> want = strings(hv.get("base_hashes"));
                for (int i = 0; i < 4; i++) {
                    assertEquals(want.get(i), String.format("%016x", h[i]), "base hash " + i + " of " + hv.get("key"));
                }
                List<Object> bits = Json.list(hv.get("bits"));
                for (int i = 0; i < bits.size(); i++) {
                    assertEquals(bits.get(i), Long.remainderUnsigned(Filter.location(h, i), f.m));
                }
            }
        }
    }

    @Test
    void spoiledFiltersRefused() throws Exception {
        Map<String, Object> v = Json.object(Json.list(vectors("filters.json").get("filters")).get(1));
        byte[] b = Base64.getDecoder().decode((String) v.get("bytes"));
        List<byte[]> spoiled = new ArrayList<>();
        spoiled.add(java.util.Arrays.copyOf(b, b.length / 2));
        byte[] flipped = b.clone();
        flipped[4] = 7;
        spoiled.add(flipped);
        spoiled.add(new byte[0]);
        for (byte[] s : spoiled) {
            try {
                Filter.parse(s, null);
                fail("a spoiled filter was accepted");
            } catch (Filter.BadFilterException expected) {
                // refused
            }
        }
        try {
            Filter.parse(b, "00");
            fail("a filter not matching its ETag was accepted");
        } catch (Filter.BadFilterException expected) {
            // refused
        }
    }

    @Test
    void deltas(@TempDir Path dir) throws Exception {
        Phone p = new Phone(dir, "http://127.0.0.1:9", java.net.http.HttpClient.newHttpClient());
        for (Object o : Json.list(vectors("deltas.json").get("steps"))) {
            Map<String, Object> st = Json.object(o);
            Map<String, Object> d = Json.object(st.get("download"));
            Filter f = Filter.parse(Base64.getDecoder().decode((String) d.get("bytes")), (String) d.get("sha256"));
            p.apply(f.name, f);
            assertEquals(st.get("version"), p.version("fraud"), (String) st.get("description"));
            assertEquals(((Long) st.get("deltas")).intValue(), p.deltas("fraud"));
            for (String key : strings(st.get("holds"))) {
                assertEquals("fraud", p.check(key), key + " after: " + st.get("description"));
            }
            for (String key : strings(st.get("holds_not"))) {
                assertEquals(null, p.check(key), key + " after: " + st.get("description"));
            }
            // What was stored is what a restart reads.
            Phone again = new Phone(dir, "http://127.0.0.1:9", java.net.http.HttpClient.newHttpClient());
            assertEquals(p.version("fraud"), again.version("fraud"));
            assertEquals(p.deltas("fraud"), again.deltas("fraud"));
        }
    }

    /** exports: CallKit pages ascend strictly, an incremental page applies to the full one; prefixes are SHA-256. */
    @Test
    void exports() throws IOException {
        Map<String, Object> ex = vectors("exports.json");
        Map<String, TreeMap<Long, String>> full = new java.util.HashMap<>();
        for (Object o : Json.list(ex.get("callkit"))) {
            Map<String, Object> pg = Json.object(o);
            String query = (String) pg.get("query");
            long last = -1;
            TreeMap<Long, String> entries = new TreeMap<>();
            for (Object e : Json.list(pg.get("entries"))) {
                long n = (Long) Json.object(e).get("number");
                assertTrue(n > last, query + ": entries must ascend strictly");
                last = n;
                entries.put(n, (String) Json.object(e).get("label"));
            }
            String kind = (String) pg.get("kind");
            if (Boolean.TRUE.equals(pg.get("full"))) {
                if (!query.contains("lang=") && !query.contains("limit=")) {
                    full.put(kind, entries);
                }
                continue;
            }
            TreeMap<Long, String> held = full.get(kind);
            for (Object r : Json.list(pg.get("removed"))) {
                assertTrue(held.containsKey((Long) r), query + ": removes a number the phone holds");
                held.remove((Long) r);
            }
            held.putAll(entries);
            assertFalse(held.isEmpty());
        }
        for (Object o : Json.list(ex.get("prefixes"))) {
            Map<String, Object> pv = Json.object(o);
            String sum = Filter.sha256Hex(((String) pv.get("key")).getBytes(StandardCharsets.UTF_8));
            assertEquals(pv.get("sha256"), sum);
            assertEquals(pv.get("prefix"), sum.substring(0, 5));
        }
        Map<String, Object> lc = Json.object(ex.get("live_caller_id"));
        byte[] block = Base64.getDecoder().decode((String) lc.get("block"));
        assertTrue(new String(block, StandardCharsets.UTF_8).contains("+8613800138000"));
    }
}
