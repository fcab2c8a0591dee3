package labels

import "time"

// Queued returns how many events wait for a commit or are being committed.
func (s *Service) Queued() int {
	s.commits.mu.Lock()
	defer s.commits.mu.Unlock()
	return len(s.commits.queue) + len(s.commits.flight)
}

// Watermark returns the replay watermark a snapshot taken now would have.
func (s *Service) Watermark() time.Time { c, _ := s.cut(); return c }
