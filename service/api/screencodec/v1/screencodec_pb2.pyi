from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PixelFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PIXEL_FORMAT_UNSPECIFIED: _ClassVar[PixelFormat]
    PIXEL_FORMAT_RGB8: _ClassVar[PixelFormat]
    PIXEL_FORMAT_BGR8: _ClassVar[PixelFormat]
    PIXEL_FORMAT_RGBA8: _ClassVar[PixelFormat]
    PIXEL_FORMAT_BGRA8: _ClassVar[PixelFormat]

class OutputFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OUTPUT_FORMAT_UNSPECIFIED: _ClassVar[OutputFormat]
    OUTPUT_FORMAT_PNG: _ClassVar[OutputFormat]
    OUTPUT_FORMAT_RAW_RGB8: _ClassVar[OutputFormat]
PIXEL_FORMAT_UNSPECIFIED: PixelFormat
PIXEL_FORMAT_RGB8: PixelFormat
PIXEL_FORMAT_BGR8: PixelFormat
PIXEL_FORMAT_RGBA8: PixelFormat
PIXEL_FORMAT_BGRA8: PixelFormat
OUTPUT_FORMAT_UNSPECIFIED: OutputFormat
OUTPUT_FORMAT_PNG: OutputFormat
OUTPUT_FORMAT_RAW_RGB8: OutputFormat

class RawImage(_message.Message):
    __slots__ = ("width", "height", "format", "data")
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    width: int
    height: int
    format: PixelFormat
    data: bytes
    def __init__(self, width: _Optional[int] = ..., height: _Optional[int] = ..., format: _Optional[_Union[PixelFormat, str]] = ..., data: _Optional[bytes] = ...) -> None: ...

class TextMask(_message.Message):
    __slots__ = ("width", "height", "data")
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    width: int
    height: int
    data: bytes
    def __init__(self, width: _Optional[int] = ..., height: _Optional[int] = ..., data: _Optional[bytes] = ...) -> None: ...

class EncodeRequest(_message.Message):
    __slots__ = ("image", "raw", "quality", "model", "detector", "mask", "frame_id")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    RAW_FIELD_NUMBER: _ClassVar[int]
    QUALITY_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    DETECTOR_FIELD_NUMBER: _ClassVar[int]
    MASK_FIELD_NUMBER: _ClassVar[int]
    FRAME_ID_FIELD_NUMBER: _ClassVar[int]
    image: bytes
    raw: RawImage
    quality: int
    model: str
    detector: str
    mask: TextMask
    frame_id: int
    def __init__(self, image: _Optional[bytes] = ..., raw: _Optional[_Union[RawImage, _Mapping]] = ..., quality: _Optional[int] = ..., model: _Optional[str] = ..., detector: _Optional[str] = ..., mask: _Optional[_Union[TextMask, _Mapping]] = ..., frame_id: _Optional[int] = ...) -> None: ...

class FrameError(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: int
    message: str
    def __init__(self, code: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class EncodeStats(_message.Message):
    __slots__ = ("width", "height", "bpp", "stage_ms")
    class StageMsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    BPP_FIELD_NUMBER: _ClassVar[int]
    STAGE_MS_FIELD_NUMBER: _ClassVar[int]
    width: int
    height: int
    bpp: float
    stage_ms: _containers.ScalarMap[str, float]
    def __init__(self, width: _Optional[int] = ..., height: _Optional[int] = ..., bpp: _Optional[float] = ..., stage_ms: _Optional[_Mapping[str, float]] = ...) -> None: ...

class EncodeResponse(_message.Message):
    __slots__ = ("bitstream", "stats", "model", "quality", "frame_id", "error")
    BITSTREAM_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    QUALITY_FIELD_NUMBER: _ClassVar[int]
    FRAME_ID_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    bitstream: bytes
    stats: EncodeStats
    model: str
    quality: int
    frame_id: int
    error: FrameError
    def __init__(self, bitstream: _Optional[bytes] = ..., stats: _Optional[_Union[EncodeStats, _Mapping]] = ..., model: _Optional[str] = ..., quality: _Optional[int] = ..., frame_id: _Optional[int] = ..., error: _Optional[_Union[FrameError, _Mapping]] = ...) -> None: ...

class DecodeRequest(_message.Message):
    __slots__ = ("bitstream", "format", "model", "frame_id")
    BITSTREAM_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    FRAME_ID_FIELD_NUMBER: _ClassVar[int]
    bitstream: bytes
    format: OutputFormat
    model: str
    frame_id: int
    def __init__(self, bitstream: _Optional[bytes] = ..., format: _Optional[_Union[OutputFormat, str]] = ..., model: _Optional[str] = ..., frame_id: _Optional[int] = ...) -> None: ...

class DecodeResponse(_message.Message):
    __slots__ = ("image", "width", "height", "format", "stage_ms", "frame_id", "error")
    class StageMsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    STAGE_MS_FIELD_NUMBER: _ClassVar[int]
    FRAME_ID_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    image: bytes
    width: int
    height: int
    format: OutputFormat
    stage_ms: _containers.ScalarMap[str, float]
    frame_id: int
    error: FrameError
    def __init__(self, image: _Optional[bytes] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., format: _Optional[_Union[OutputFormat, str]] = ..., stage_ms: _Optional[_Mapping[str, float]] = ..., frame_id: _Optional[int] = ..., error: _Optional[_Union[FrameError, _Mapping]] = ...) -> None: ...

class ListModelsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class QualityLevel(_message.Message):
    __slots__ = ("quality", "rd_lambda", "typical_bpp")
    QUALITY_FIELD_NUMBER: _ClassVar[int]
    RD_LAMBDA_FIELD_NUMBER: _ClassVar[int]
    TYPICAL_BPP_FIELD_NUMBER: _ClassVar[int]
    quality: int
    rd_lambda: float
    typical_bpp: float
    def __init__(self, quality: _Optional[int] = ..., rd_lambda: _Optional[float] = ..., typical_bpp: _Optional[float] = ...) -> None: ...

class ModelInfo(_message.Message):
    __slots__ = ("name", "model_id", "qualities", "default_quality", "detectors", "execution_providers", "active_execution_provider")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    QUALITIES_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_QUALITY_FIELD_NUMBER: _ClassVar[int]
    DETECTORS_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_PROVIDERS_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_EXECUTION_PROVIDER_FIELD_NUMBER: _ClassVar[int]
    name: str
    model_id: str
    qualities: _containers.RepeatedCompositeFieldContainer[QualityLevel]
    default_quality: int
    detectors: _containers.RepeatedScalarFieldContainer[str]
    execution_providers: _containers.RepeatedScalarFieldContainer[str]
    active_execution_provider: str
    def __init__(self, name: _Optional[str] = ..., model_id: _Optional[str] = ..., qualities: _Optional[_Iterable[_Union[QualityLevel, _Mapping]]] = ..., default_quality: _Optional[int] = ..., detectors: _Optional[_Iterable[str]] = ..., execution_providers: _Optional[_Iterable[str]] = ..., active_execution_provider: _Optional[str] = ...) -> None: ...

class ListModelsResponse(_message.Message):
    __slots__ = ("models", "default_model")
    MODELS_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_MODEL_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[ModelInfo]
    default_model: str
    def __init__(self, models: _Optional[_Iterable[_Union[ModelInfo, _Mapping]]] = ..., default_model: _Optional[str] = ...) -> None: ...
