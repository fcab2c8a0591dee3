package org.callrep.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * EndToEndTest runs the client against a live callrep on loopback, started
 * by contract's Go test, which passes its URL and tokens as system
 * properties (callrep.url, callrep.reporters, callrep.moderator).
 */
class EndToEndTest {
    private final HttpClient http = HttpClient.newHttpClient();
    private final String base = System.getProperty("callrep.url");

    private int send(String method, String path, String token, String body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).header("Authorization", "Bearer " + token)
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (body != null) {
            b.header("Content-Type", "application/json");
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.discarding()).statusCode();
    }

    private void everyone(String method, String number) throws Exception {
        for (String token : System.getProperty("callrep.reporters").split(",")) {
            String path = method.equals("POST") ? "/v1/reports" : "/v1/reports/" + number.replace("+", "%2B");
            String body = method.equals("POST") ? "{\"number\":\"" + number + "\",\"category\":\"fraud\"}" : null;
            int status = send(method, path, token, body);
            assertTrue(status == 201 || status == 200, method + " " + number + ": " + status);
        }
    }

    private void rebuild() throws Exception {
        assertEquals(200, send("POST", "/v1/filters/rebuild", System.getProperty("callrep.moderator"), null));
    }

    @Test
    void syncDeltaAndClear(@TempDir Path dir) throws Exception {
        Assumptions.assumeTrue(base != null, "no live callrep (callrep.url unset)");
        Phone phone = new Phone(dir, base, http);
        everyone("POST", "+8613800138000");
        rebuild();
        phone.sync();
        assertEquals("block", phone.check("+8613800138000"));
        assertEquals("reject", phone.screen("138 0013 8000", "CN", false, null, true).decision());
        assertEquals("ring", phone.screen("138 0013 8000", "CN", true, null, true).decision());
        assertEquals("ring", phone.screen("110", "CN", false, null, true).decision());
        long before = phone.version("fraud");

        // A new report appears in the next delta.
        everyone("POST", "+8613900139000");
        rebuild();
        phone.sync();
        assertEquals(1, phone.deltas("fraud"), "the next version arrives as a delta");
        assertTrue(phone.version("fraud") > before);
        assertEquals("block", phone.check("+8613900139000"));
        assertEquals("fraud", phone.lookup("+8613900139000", null).verdict());

        // A cleared number disappears after the full snapshot.
        everyone("DELETE", "+8613800138000");
        rebuild();
        phone.sync();
        assertEquals(0, phone.deltas("fraud"), "a removal arrives as a full snapshot");
        assertNull(phone.check("+8613800138000"));
        assertEquals("block", phone.check("+8613900139000"));

        // Nothing new: the filters answer 304 and the phone keeps its copy.
        long v = phone.version("fraud");
        phone.sync();
        assertEquals(v, phone.version("fraud"));
        Phone restarted = new Phone(dir, base, http);
        assertEquals(v, restarted.version("fraud"));
        assertEquals("block", restarted.check("+8613900139000"));
    }
}
