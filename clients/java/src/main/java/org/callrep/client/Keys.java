package org.callrep.client;

import com.google.i18n.phonenumbers.NumberParseException;
import com.google.i18n.phonenumbers.PhoneNumberUtil;
import com.google.i18n.phonenumbers.PhoneNumberUtil.PhoneNumberFormat;
import com.google.i18n.phonenumbers.PhoneNumberUtil.PhoneNumberType;
import com.google.i18n.phonenumbers.PhoneNumberUtil.ValidationResult;
import com.google.i18n.phonenumbers.Phonenumber.PhoneNumber;
import com.google.i18n.phonenumbers.ShortNumberInfo;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Keys derives callrep's key of a caller ID, as section "Keys" of
 * docs/phone-contract.md says: libphonenumber's E.164 form, plus callrep's
 * rules (region-scoped keys for service numbers, emergency numbers refused,
 * a key re-read until it is stable).
 */
public final class Keys {
    private Keys() {}

    private static final PhoneNumberUtil UTIL = PhoneNumberUtil.getInstance();
    private static final ShortNumberInfo SHORT = ShortNumberInfo.getInstance();
    private static final int MAX_RAW = 64;
    private static final int MAX_NSN = 17;
    private static final int MAX_SETTLE = 4;
    /** Emergency numbers libphonenumber's short-number metadata lacks. */
    private static final Map<String, List<String>> EXTRA_EMERGENCY = Map.of("CN", List.of("122"));
    /** An extension marker with its digits at the end of a caller ID. */
    private static final Pattern EXTENSION = Pattern.compile(
            "(?i)(?:\\s*(?:;\\s*ext\\s*=|ext\\.?|extn\\.?|extension|x|#|~)\\s*\\d{1,7}#?)\\s*$");

    /** The error codes of a refusal, as the server names them. */
    public static final String INVALID_NUMBER = "invalid_number";
    public static final String NOT_LABELABLE = "number_not_labelable";
    public static final String INVALID_ARGUMENT = "invalid_argument";

    /** Result is a key, or the code of a refusal. */
    public record Result(String key, boolean valid, String type, String error, boolean askServer) {
        static Result refused(String code) {
            return new Result(null, false, null, code, false);
        }

        /** ok reports whether the input has a key. */
        public boolean ok() {
            return error == null;
        }
    }

    /**
     * derive returns the key of raw, a caller ID as shown, read in region
     * (an ISO 3166 code, any case), with askServer set when the key depends
     * on metadata beyond its digits (see the spec: confirm online).
     */
    public static Result derive(String raw, String region) {
        Result r = settle(raw, region);
        return new Result(r.key, r.valid, r.type, r.error, askServer(raw, r));
    }

    /**
     * askServer is the phone's rule: an international caller ID whose key is
     * not "+" and its digits, or that the phone refuses for its length, is
     * looked up online, since another version of the metadata may read it
     * otherwise.
     */
    static boolean askServer(String raw, Result r) {
        String s = raw.strip();
        if (!s.startsWith("+") && !s.toLowerCase(Locale.ROOT).startsWith("tel:+")) {
            return false;
        }
        if (!r.ok()) {
            return r.error.equals(INVALID_NUMBER);
        }
        return !r.key.equals("+" + s.replaceAll("[^0-9]", ""));
    }

    private static Result settle(String raw, String region) {
        Result n = once(raw, region);
        if (!n.ok() || n.key.indexOf(':') >= 0) {
            return n;
        }
        // A key must read as itself: libphonenumber strips one national
        // prefix per parse, so re-read while the number stays invalid.
        for (int i = 0; i < MAX_SETTLE; i++) {
            Result m = once(n.key, region);
            if (m.ok() && m.key.equals(n.key) && m.valid == n.valid && m.type.equals(n.type)) {
                return n;
            }
            if (!m.ok() || m.key.indexOf(':') >= 0 || n.valid || m.valid) {
                break;
            }
            n = m;
        }
        return Result.refused(INVALID_NUMBER);
    }

    private static Result once(String raw, String region) {
        if (region == null || region.length() != 2) {
            return Result.refused(INVALID_ARGUMENT);
        }
        region = region.toUpperCase(Locale.ROOT);
        if (!UTIL.getSupportedRegions().contains(region)) {
            return Result.refused(INVALID_ARGUMENT);
        }
        raw = raw.strip();
        if (raw.isEmpty() || raw.codePointCount(0, raw.length()) > MAX_RAW) {
            return Result.refused(INVALID_NUMBER);
        }
        if (raw.length() >= 4 && raw.charAt(2) == ':' && asciiLetter(raw.charAt(0)) && asciiLetter(raw.charAt(1))) {
            return scopedKey(raw.substring(0, 2).toUpperCase(Locale.ROOT), raw.substring(3));
        }
        if (hasLetters(raw)) {
            return Result.refused(INVALID_NUMBER);
        }
        if (isEmergency(raw, region)) {
            return Result.refused(NOT_LABELABLE);
        }
        PhoneNumber pn;
        try {
            pn = UTIL.parse(raw, region);
        } catch (NumberParseException e) {
            return Result.refused(INVALID_NUMBER);
        }
        pn.clearExtension();
        PhoneNumberType t = UTIL.getNumberType(pn);
        if (t != PhoneNumberType.UNKNOWN) {
            return full(pn, t);
        }
        String nsn = UTIL.getNationalSignificantNumber(pn);
        String shortRegion = shortRegion(pn, region);
        if (shortRegion != null) {
            if (isEmergencyDigits(nsn, shortRegion)) {
                return Result.refused(NOT_LABELABLE);
            }
            if (isService(pn, nsn, shortRegion)) {
                return scoped(shortRegion, nsn);
            }
        }
        if (UTIL.isPossibleNumberWithReason(pn) == ValidationResult.IS_POSSIBLE) {
            return full(pn, PhoneNumberType.UNKNOWN);
        }
        return Result.refused(INVALID_NUMBER);
    }

    private static Result scopedKey(String region, String digits) {
        if (!UTIL.getSupportedRegions().contains(region) || digits.isEmpty() || digits.length() > MAX_NSN
                || !digits.chars().allMatch(c -> c >= '0' && c <= '9')) {
            return Result.refused(INVALID_NUMBER);
        }
        if (isEmergencyDigits(digits, region)) {
            return Result.refused(NOT_LABELABLE);
        }
        PhoneNumber pn;
        try {
            pn = UTIL.parse(digits, region);
        } catch (NumberParseException e) {
            return Result.refused(INVALID_NUMBER);
        }
        return isService(pn, digits, region) ? scoped(region, digits) : Result.refused(INVALID_NUMBER);
    }

    /** Letters are a vanity number or a typo; an extension marker and a tel: URI's scheme are fine. */
    private static boolean hasLetters(String raw) {
        String s = raw;
        if (s.length() >= 4 && s.substring(0, 4).equalsIgnoreCase("tel:")) {
            s = s.substring(4);
            int semi = s.indexOf(';');
            if (semi >= 0) {
                s = s.substring(0, semi);
            }
        } else {
            s = EXTENSION.matcher(s).replaceFirst("");
        }
        return s.codePoints().anyMatch(Character::isLetter);
    }

    private static boolean isEmergency(String raw, String region) {
        if (SHORT.isEmergencyNumber(raw, region)) {
            return true;
        }
        if (raw.contains("+") || raw.contains("＋")) {
            return false;
        }
        return EXTRA_EMERGENCY.getOrDefault(region, List.of()).contains(PhoneNumberUtil.normalizeDigitsOnly(raw));
    }

    private static boolean isEmergencyDigits(String nsn, String region) {
        return SHORT.isEmergencyNumber(nsn, region) || EXTRA_EMERGENCY.getOrDefault(region, List.of()).contains(nsn);
    }

    private static String shortRegion(PhoneNumber pn, String region) {
        List<String> regions = UTIL.getRegionCodesForCountryCode(pn.getCountryCode());
        if (regions.contains(region)) {
            return region;
        }
        if (regions.isEmpty() || regions.get(0).equals("001")) {
            return null;
        }
        return regions.get(0);
    }

    /** China's 95xxx/96xxx hotlines and 12xxx lines, and valid short numbers. */
    private static boolean isService(PhoneNumber pn, String nsn, String region) {
        if (region.equals("CN") && nsn.length() == 5 && (nsn.startsWith("95") || nsn.startsWith("96") || nsn.startsWith("12"))) {
            return true;
        }
        return SHORT.isValidShortNumberForRegion(pn, region);
    }

    private static Result scoped(String region, String digits) {
        return new Result(region + ":" + digits, true, "service", null, false);
    }

    private static Result full(PhoneNumber pn, PhoneNumberType t) {
        return new Result(UTIL.format(pn, PhoneNumberFormat.E164), t != PhoneNumberType.UNKNOWN, typeName(t), null, false);
    }

    private static String typeName(PhoneNumberType t) {
        return switch (t) {
            case MOBILE -> "mobile";
            case FIXED_LINE -> "fixed_line";
            case FIXED_LINE_OR_MOBILE -> "fixed_line_or_mobile";
            case TOLL_FREE -> "toll_free";
            case PREMIUM_RATE -> "premium_rate";
            case SHARED_COST -> "shared_cost";
            case VOIP -> "voip";
            case PERSONAL_NUMBER -> "personal_number";
            case PAGER -> "pager";
            case UAN -> "uan";
            case VOICEMAIL -> "voicemail";
            default -> "unknown";
        };
    }

    private static boolean asciiLetter(char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
    }
}
