package labels

import (
	"sync"

	"github.com/nyaruka/phonenumbers"
)

// metadataIndex finds libphonenumber's metadata by region and, for
// non-geographic country calling codes (+800, +882 …), by code: the library
// keeps its own index private.
type metadataIndex struct {
	byRegion map[string]*phonenumbers.PhoneMetadata
	nonGeo   map[int]*phonenumbers.PhoneMetadata
}

var metadata = sync.OnceValue(func() metadataIndex {
	idx := metadataIndex{
		byRegion: map[string]*phonenumbers.PhoneMetadata{},
		nonGeo:   map[int]*phonenumbers.PhoneMetadata{},
	}
	// The library panics at init if its metadata is broken, so the error
	// cannot happen here; an empty index only turns the fast path off.
	coll, _ := phonenumbers.MetadataCollection()
	for _, m := range coll.GetMetadata() {
		if m.GetId() == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY {
			idx.nonGeo[int(m.GetCountryCode())] = m
		} else {
			idx.byRegion[m.GetId()] = m
		}
	}
	return idx
})

// regionMetadata returns the metadata libphonenumber uses for region, which
// may be "001" for the non-geographic code cc; nil if there is none.
func regionMetadata(region string, cc int) *phonenumbers.PhoneMetadata {
	if region == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY {
		return metadata().nonGeo[cc]
	}
	return metadata().byRegion[region]
}

// mainMetadata returns the metadata of the main region of the country
// calling code cc, which libphonenumber uses to parse and to check the
// length of numbers of cc; nil for an unknown code.
func mainMetadata(cc int) *phonenumbers.PhoneMetadata {
	return regionMetadata(phonenumbers.GetRegionCodeForCountryCode(cc), cc)
}
