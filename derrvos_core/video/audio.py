"""The source video's audio, carried into an MP4 being written (the overlay), in step with its frames.

AAC and MP3 packets are copied as they are (no quality lost, no decoding); any other codec (PCM in AVI
and MOV, Vorbis or Opus in WebM, FLAC, ...) is decoded and encoded to AAC, which every MP4 player and
browser plays. Audio past the video's last frame is left out, so both tracks end together. A damaged
audio track is dropped rather than failing the video: the frames are what the user asked for.
"""
from __future__ import annotations

from pathlib import Path

import av

from derrvos_core.video.probing import AV_ERRORS

COPIED_CODECS = frozenset({"aac", "mp3"})
"""Audio codecs an MP4 holds as they are; the rest is encoded to AAC."""

AAC_BIT_RATE = 128_000


class AudioCarry:
    """Muxes the first audio stream of `source` into `output` up to a time, as the video advances.

    Use `open_audio_carry`, which gives None for a source without audio. Times are seconds from the
    source's first video frame, which is the written video's frame 0.
    """

    def __init__(self, source: av.container.InputContainer, output: av.container.OutputContainer):
        self._source = source
        self._output = output
        self._in = source.streams.audio[0]
        self._copy = self._in.codec_context.name in COPIED_CODECS
        if self._copy:
            self._out = output.add_stream_from_template(self._in)
        else:
            layout = "stereo" if self._in.codec_context.channels >= 2 else "mono"
            self._out = output.add_stream("aac", rate=self._in.codec_context.sample_rate or 44100,
                                          layout=layout)
            self._out.bit_rate = AAC_BIT_RATE
            self._resampler = av.AudioResampler(format="fltp", layout=layout, rate=self._out.rate)
        video = source.streams.video[0] if source.streams.video else None
        start = video.start_time if video is not None and video.start_time is not None else 0
        self._zero = float(start * video.time_base) if video is not None else 0.0
        self._packets = source.demux(self._in)
        self._pending: av.Packet | None = None
        self._done = False

    def mux_until(self, seconds: float) -> None:
        """Write the audio that starts before `seconds` (of the written video) and was not written yet."""
        while not self._done:
            packet = self._pending or self._next_packet()
            if packet is None:
                return
            at = float(packet.pts * packet.time_base) - self._zero
            if at >= seconds:
                self._pending = packet
                return
            self._pending = None
            if at >= 0:
                self._write(packet, at)

    def finish(self, seconds: float) -> None:
        """Write the audio up to `seconds` (the video's end), flush the encoder, close the source."""
        self.mux_until(seconds)
        self._done = True
        if not self._copy:
            for out_packet in self._out.encode(None):
                self._output.mux(out_packet)
        self.close()

    def close(self) -> None:
        """Close the source (again is fine); what was muxed stays."""
        self._done = True
        self._source.close()

    def _next_packet(self) -> av.Packet | None:
        try:
            for packet in self._packets:
                if packet.size and packet.pts is not None:
                    return packet
        except AV_ERRORS:
            pass  # a damaged tail of audio ends the track
        self._done = True
        return None

    def _write(self, packet: av.Packet, at: float) -> None:
        if self._copy:
            shift = round(self._zero / packet.time_base) if self._zero else 0
            packet.pts -= shift
            if packet.dts is not None:
                packet.dts -= shift
            packet.stream = self._out
            self._output.mux(packet)
            return
        try:
            frames = packet.decode()
        except AV_ERRORS:
            return  # one undecodable packet is a moment of silence, not a failed video
        for frame in frames:
            for resampled in self._resampler.resample(frame):
                resampled.pts = None  # the encoder numbers samples from 0
                for out_packet in self._out.encode(resampled):
                    self._output.mux(out_packet)


def open_audio_carry(source: Path, output: av.container.OutputContainer) -> AudioCarry | None:
    """An `AudioCarry` from `source` into `output`, or None when `source` has no (readable) audio."""
    try:
        container = av.open(str(source))
    except AV_ERRORS:
        return None
    if not container.streams.audio:
        container.close()
        return None
    try:
        return AudioCarry(container, output)
    except AV_ERRORS + (KeyError,):  # an audio codec or layout this FFmpeg cannot carry
        container.close()
        return None
